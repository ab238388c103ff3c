#!/usr/bin/env python3
"""The console's first paint, measured in Debian's Chromium (Selenium), for `tidemark bench console`.

Arguments: URL CERTIFICATE TOKEN LOADS. Signs in by setting the session cookie to a viewer's
token, then loads the dashboard and the sessions page LOADS times each with the cache
disabled (a first visit), reading the console's own User Timing marks (set when a page has
drawn its data) and, as the reference, how long the page's API request took as the browser
timed it. Prints one JSON object: milliseconds per load, and the page weight in bytes.
"""
import base64
import hashlib
import json
import subprocess
import sys

from selenium import webdriver
from selenium.webdriver.support.ui import WebDriverWait

url, certificate, token, loads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])


def spki_hash(path):
    der = subprocess.run(
        "openssl x509 -pubkey -noout -in '%s' | openssl pkey -pubin -outform der" % path,
        shell=True, check=True, capture_output=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,800",
                 f"--ignore-certificate-errors-spki-list={spki_hash(certificate)}"):
    options.add_argument(argument)
driver = webdriver.Chrome(options=options)
try:
    driver.get(url + "/healthz")
    driver.add_cookie({"name": "tidemark_session", "value": token, "path": "/", "secure": True, "httpOnly": True,
                       "sameSite": "Strict"})
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    figures = {"dashboard": [], "dashboard_api": [], "sessions": [], "sessions_api": [], "weight_bytes": 0, "html_bytes": 0}
    pages = [("dashboard", "#/dashboard", "/api/v1/dashboard"), ("sessions", "#/sessions", "/api/v1/sessions?")]
    for load in range(loads + 1):
        for name, fragment, request in pages:
            # A query of its own per page and load: the same one would make this a same-document
            # navigation (a hash change), not a first paint.
            driver.get(f"{url}/?load={load}-{name}{fragment}")
            mark = f"tidemark:{name}-rendered"
            WebDriverWait(driver, 60).until(
                lambda d: d.execute_script("return performance.getEntriesByName(arguments[0]).length > 0", mark))
            painted, api, weight, html = driver.execute_script(
                "const mark = performance.getEntriesByName(arguments[0])[0].startTime;"
                "const entries = performance.getEntriesByType('resource');"
                "const call = entries.find(e => e.name.includes(arguments[1]));"
                "const nav = performance.getEntriesByType('navigation')[0];"
                "const weight = nav.decodedBodySize + entries.filter(e => e.name.includes('/ui/'))"
                ".reduce((sum, e) => sum + e.decodedBodySize, 0);"
                "return [mark, call ? call.duration : null, weight, nav.decodedBodySize];", mark, request)
            if load == 0:
                continue  # the first load warms the server's plans and the browser, as a user's second visit would
            figures[name].append(painted)
            if api is not None:
                figures[name + "_api"].append(api)
            figures["weight_bytes"] = max(figures["weight_bytes"], weight)
            figures["html_bytes"] = html
    print(json.dumps(figures), flush=True)
finally:
    driver.quit()

#!/usr/bin/env python3
"""The console's first paint and live updates, measured in Debian's Chromium (Selenium), for `tidemark bench console`.

Arguments: URL CERTIFICATE TOKEN LOADS [SESSION READY-FILE UPDATES]. Signs in by setting the
session cookie to a viewer's token, then loads the dashboard and the sessions page LOADS times
each with the cache disabled (a first visit), reading the console's own User Timing marks (set
when a page has drawn its data) and, as the reference, how long the page's API request took as
the browser timed it.

With a SESSION (one the bench is running), it then opens that session's page, waits for its
task's progress bar, notes the wall-clock time (Date.now()) of every change of the bar's value
from then on, creates READY-FILE so the bench starts appending its UPDATES checkpoints, and
waits for the session to show success.

Prints one JSON object: milliseconds per load, the page weight in bytes, and the live
changes as [percent, epoch milliseconds] pairs.
"""
import base64
import hashlib
import json
import subprocess
import sys

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.support.ui import WebDriverWait

url, certificate, token, loads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
live = sys.argv[5:8] if len(sys.argv) >= 8 else None


def spki_hash(path):
    der = subprocess.run(
        "openssl x509 -pubkey -noout -in '%s' | openssl pkey -pubin -outform der" % path,
        shell=True, check=True, capture_output=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def follow_live_session(session, ready, updates):
    """The progress bar's changes on SESSION's page while the bench appends its checkpoints."""
    bar = "tr[data-task] progress"
    for attempt in range(30):  # the server's projector may not have shown the session yet
        driver.get(f"{url}/?load=live-{attempt}#/sessions/{session}")
        try:
            WebDriverWait(driver, 5).until(
                lambda d: d.execute_script("return document.querySelector(arguments[0]) !== null", bar))
            break
        except TimeoutException:
            continue
    else:
        raise SystemExit(f"the session page of {session} never showed its task")
    # A change of the bar's value attribute is the page's update (the console sets the
    # property, which reflects to the attribute); each is noted as the observer sees it,
    # in the same task as the change.
    driver.execute_script(
        "window.tidemarkLive = [];"
        "const bar = document.querySelector(arguments[0]);"
        "new MutationObserver(() => window.tidemarkLive.push([Number(bar.value), Date.now()]))"
        ".observe(bar, { attributes: true, attributeFilter: ['value'] });", bar)
    open(ready, "w").close()
    WebDriverWait(driver, 60 + int(updates)).until(lambda d: d.execute_script(
        "return (document.getElementById('session-state')?.textContent ?? '').includes('success')"))
    return driver.execute_script("return window.tidemarkLive")


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
    if live:
        figures["live"] = follow_live_session(*live)
    print(json.dumps(figures), flush=True)
finally:
    driver.quit()

#!/usr/bin/env python3
"""The web console in a real browser: Debian's Chromium driven by Selenium (chromium-driver).

Run by ConsoleBrowserTests against a live `tidemark server`; prints one line per step and
exits non-zero at the first failure, with what was on the page. Arguments:
  URL CERTIFICATE OPERATOR_PASSWORD TOTP_SECRET OTHERS_PASSWORD JOB SCREENSHOTS_DIR PENDING_JOB
(PENDING_JOB: a job whose removal another administrator asked for, awaiting approval.)
The server's self-signed certificate is trusted by its public key's hash alone
(--ignore-certificate-errors-spki-list), so no other certificate error is ignored.
"""
import base64
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

url, certificate, operator_password, totp_secret, others_password, job, shots, pending_job = sys.argv[1:9]


def spki_hash(path):
    der = subprocess.run(
        "openssl x509 -pubkey -noout -in '%s' | openssl pkey -pubin -outform der" % path,
        shell=True, check=True, capture_output=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def browser(width, height):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={width},{height}",
                     f"--ignore-certificate-errors-spki-list={spki_hash(certificate)}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def step(text):
    print(f"step: {text}", flush=True)


def fail(driver, text):
    print(f"FAILED: {text}", flush=True)
    try:
        print("page text:\n" + driver.find_element(By.TAG_NAME, "body").text[:4000], flush=True)
        for entry in driver.get_log("browser")[-20:]:
            print("console:", entry, flush=True)
    finally:
        driver.quit()
    sys.exit(1)


def wait_for(driver, condition, text, seconds=60):
    try:
        return WebDriverWait(driver, seconds, poll_frequency=0.1).until(condition)
    except Exception:
        fail(driver, text)


def sign_in(driver, user, password, code=None):
    driver.get(url + "/")
    wait_for(driver, EC.presence_of_element_located((By.ID, "sign-in")), "no sign-in form")
    driver.find_element(By.ID, "user").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(password)
    if code:
        driver.find_element(By.ID, "code").send_keys(code)
    driver.find_element(By.CSS_SELECTOR, "#sign-in button[type=submit]").click()
    wait_for(driver, lambda d: user in d.find_element(By.ID, "who").text, f"{user} is not signed in")


def totp():
    return subprocess.run(["oathtool", "--totp", "-b", totp_secret], check=True, capture_output=True, text=True).stdout.strip()


AXE = open(os.path.join(os.path.dirname(importlib.util.find_spec("axe_playwright_python").origin), "axe.min.js")).read()
# WCAG 2.1 A and AA, as axe-core checks them; the rest of its rules are best practice.
AXE_RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
violations = []


def audit(driver, name):
    """Runs axe-core on the page as it stands and keeps what breaks WCAG 2.1 AA."""
    driver.execute_script(AXE)
    found = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: ['violations']})"
        ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ': ' + (n.failureSummary || '').split('\\n').slice(1, 2).join(''))}))))"
        ".catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));", AXE_RULES)
    for violation in found:
        violations.append((name, violation))
        print(f"  accessibility: {name}: {violation['id']} ({violation['impact']}): {violation['help']}"
              f" at {json.dumps(violation['nodes'])}", flush=True)


def shoot(driver, name, size):
    audit(driver, f"{name} ({size})")
    os.makedirs(shots, exist_ok=True)
    driver.save_screenshot(os.path.join(shots, f"{name}-{size}.png"))


def open_wizard(driver, purpose, shot=None):
    """The restore points page, then the wizard for its first point."""
    driver.get(url + "/#/restore-points")
    wait_for(driver, EC.element_to_be_clickable((By.CSS_SELECTOR, "tr[data-point] button")), f"no restore point to {purpose}")
    if shot:
        shoot(driver, shot, "desktop")
    driver.find_element(By.CSS_SELECTOR, "tr[data-point] button").click()
    wait_for(driver, EC.presence_of_element_located((By.ID, "restore-form")), f"no wizard to {purpose}")


def submit_and_follow(driver, what):
    """Sends the wizard's request and follows the restore's page to success."""
    driver.find_element(By.CSS_SELECTOR, "#restore-form button[type=submit]").click()
    wait_for(driver, EC.presence_of_element_located((By.ID, "restore-state")), f"no restore page after asking for {what}")
    wait_for(driver, lambda d: "success" in d.find_element(By.ID, "restore-state").text, f"{what} did not reach success", 180)


sizes = {"desktop": (1280, 800), "phone": (390, 844)}
driver = browser(*sizes["desktop"])
try:
    step("an operator signs in with a password and a TOTP code")
    sign_in(driver, "user-operator", operator_password, totp())
    wait_for(driver, EC.presence_of_element_located((By.ID, "dashboard")), "no dashboard after sign-in")
    cookies = {c["name"]: c for c in driver.get_cookies()}
    session = cookies.get("tidemark_session")
    if not session or not session.get("httpOnly") or not session.get("secure") or session.get("sameSite") != "Strict":
        fail(driver, f"the session cookie is not HttpOnly, Secure and SameSite=Strict: {session}")
    if driver.execute_script("return document.cookie.includes('tidemark_session')"):
        fail(driver, "the page's scripts can read the session cookie")

    step("the jobs page: a description with markup is shown as text")
    driver.get(url + "/#/jobs")
    wait_for(driver, EC.presence_of_element_located((By.CSS_SELECTOR, f"button[aria-label='Start {job}']")), "no start button")
    cell = driver.find_element(By.CSS_SELECTOR, "main table tbody tr td")
    if "<img" not in cell.text or cell.find_elements(By.TAG_NAME, "img"):
        fail(driver, f"the description was not shown as text: {cell.get_attribute('innerHTML')}")
    if driver.execute_script("return window.tidemarkProbe === true"):
        fail(driver, "markup in a description ran script")

    step("start the job and watch its session reach success live, without reloading")
    driver.execute_script("window.notReloaded = true")
    driver.find_element(By.CSS_SELECTOR, f"button[aria-label='Start {job}']").click()
    wait_for(driver, EC.presence_of_element_located((By.ID, "session-state")), "no session page after start")
    wait_for(driver, lambda d: "success" in d.find_element(By.ID, "session-state").text, "the session did not reach success", 180)
    if not driver.execute_script("return window.notReloaded === true"):
        fail(driver, "the page reloaded while following the session")
    bars = driver.find_elements(By.CSS_SELECTOR, "#main progress")
    if not bars or any(bar.get_attribute("value") != "100" for bar in bars):
        fail(driver, "the tasks' progress bars did not reach 100%")
    if "Processed" not in driver.find_element(By.ID, "session-summary").text:
        fail(driver, "no statistics once the session finished")
    session_url = driver.current_url

    step("the replay: a lane per task, the decisions marked, and the scrubber asks where everything stood")
    driver.find_element(By.ID, "replay-link").click()
    wait_for(driver, lambda d: "session success" in d.find_element(By.ID, "replay-state").text, "the replay's state at the end")
    if not driver.find_elements(By.CSS_SELECTOR, "svg.timeline rect.decision"):
        fail(driver, "no decision marked on the timeline")
    driver.execute_script(
        "const s = document.getElementById('replay-at'); s.value = '0'; s.dispatchEvent(new Event('input'))")
    wait_for(driver, lambda d: "session running" in d.find_element(By.ID, "replay-state").text, "the scrubber did not go back")
    shoot(driver, "replay", "desktop")
    driver.back()

    step("screenshots of each page at both sizes")
    pages = {"dashboard": "#/dashboard", "jobs": "#/jobs", "job": f"#/jobs/{job}", "sessions": "#/sessions",
             "session": session_url[session_url.index("#"):], "infrastructure": "#/infrastructure",
             "statistics": "#/statistics"}
    for size, (width, height) in sizes.items():
        driver.set_window_size(width, height)
        for name, fragment in pages.items():
            driver.get(url + "/" + fragment)
            wait_for(driver, lambda d: d.find_element(By.TAG_NAME, "h1").text != "", f"{name} did not render")
            time.sleep(0.5)
            words = driver.find_element(By.ID, "main").text.split()
            if "null" in words or "undefined" in words or "NaN" in words:
                fail(driver, f"the {name} page shows a missing value as text")
            shoot(driver, name, size)
    driver.set_window_size(*sizes["desktop"])
    step("the same pages in the dark scheme (prefers-color-scheme: dark), audited again for contrast")
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    for name, fragment in pages.items():
        driver.get(url + "/" + fragment)
        wait_for(driver, lambda d: d.find_element(By.TAG_NAME, "h1").text != "", f"{name} did not render")
        time.sleep(0.5)
        if driver.execute_script("return getComputedStyle(document.body).backgroundColor") == "rgb(246, 247, 249)":
            fail(driver, "the dark scheme was asked for and the light one shown")
        shoot(driver, name, "dark")
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "light"}]})
    driver.get(url + "/#/infrastructure")
    wait_for(driver, lambda d: "proxy-1" in d.find_element(By.ID, "main").text
             and "Certificate thumbprint" in d.find_element(By.ID, "main").text, "the infrastructure page lacks the proxies or servers")

    step("statistics: the repository's day, the job's sessions over time, and its CSV download answered with the session cookie")
    driver.get(url + "/#/statistics")
    wait_for(driver, EC.element_to_be_clickable((By.CSS_SELECTOR, f"button[aria-label='Sessions of {job} over time']")),
             "the job is not in the statistics per job")
    wait_for(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#statistics-repository-days tbody tr")) >= 1,
             "the repository's days did not show")
    driver.find_element(By.CSS_SELECTOR, f"button[aria-label='Sessions of {job} over time']").click()
    wait_for(driver, lambda d: f"Sessions of {job}" in d.find_element(By.ID, "main").text
             and "success" in d.find_element(By.ID, "main").text, "the job's sessions did not show")
    link = driver.find_element(By.XPATH, f"//a[contains(., 'Download the sessions of {job}')]").get_attribute("href")
    csv = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {credentials: 'same-origin'}).then(r => r.text().then(t => done(r.status + '\\n' + t)))"
        ".catch(e => done(String(e)));", link)
    lines = csv.split("\n")
    if lines[0] != "200" or not lines[1].startswith("session_id,job_name,") or job not in csv:
        fail(driver, f"the CSV download did not answer the job's sessions: {csv[:300]}")

    step("sign out: the sign-in form again, and the old cookie no longer works")
    driver.get(url + "/#/dashboard")
    wait_for(driver, EC.element_to_be_clickable((By.ID, "sign-out")), "no sign-out button")
    driver.find_element(By.ID, "sign-out").click()
    wait_for(driver, EC.presence_of_element_located((By.ID, "sign-in")), "no sign-in form after signing out")
    shoot(driver, "sign-in", "desktop")
finally:
    driver.quit()

driver = browser(*sizes["desktop"])
try:
    step("a restore operator sees no job controls")
    sign_in(driver, "user-restore-operator", others_password)
    driver.get(url + "/#/jobs")
    wait_for(driver, EC.presence_of_element_located((By.CSS_SELECTOR, "main table tbody tr")), "no jobs table")
    time.sleep(0.5)
    if driver.find_elements(By.CSS_SELECTOR, "button[data-action]"):
        fail(driver, "a restore operator was shown job controls")
    if driver.find_element(By.CSS_SELECTOR, "nav a[href='#/audit']").is_displayed():
        fail(driver, "a restore operator was shown the audit page's link")

    step("the restore operator restores a disk from the restore point the session made, and follows it to its end")
    open_wizard(driver, "restore a disk from", shot="restore-points")
    driver.find_element(By.ID, "restore-reason").send_keys("console test")
    shoot(driver, "restore-wizard", "desktop")
    submit_and_follow(driver, "the disk's restore")
    if "RestoreFinished" not in driver.find_element(By.ID, "restore-log").text:
        fail(driver, "the restore's events were not shown")
    shoot(driver, "restore", "desktop")

    step("the restore operator browses the point's guest files, finds fstab by name, and restores it")
    open_wizard(driver, "restore files from")
    Select(driver.find_element(By.ID, "restore-kind")).select_by_value("guest-files")
    wait_for(driver, EC.element_to_be_clickable((By.CSS_SELECTOR, "button[aria-label='Open /etc']")), "the browser does not list /etc")
    driver.find_element(By.CSS_SELECTOR, "button[aria-label='Open /etc']").click()
    wait_for(driver, EC.presence_of_element_located((By.CSS_SELECTOR, "input[aria-label='Select /etc/fstab']")), "/etc does not list fstab")
    driver.find_element(By.ID, "files-search").send_keys("hostn")
    driver.find_element(By.ID, "files-find").click()
    wait_for(driver, lambda d: "/etc/hostname" in d.find_element(By.ID, "files-list").text, "finding by name did not list /etc/hostname")
    driver.find_element(By.CSS_SELECTOR, "input[aria-label='Select /etc/hostname']").click()
    if "1 selected" not in driver.find_element(By.ID, "files-selected").text:
        fail(driver, "the selection is not shown")
    shoot(driver, "guest-files", "desktop")
    submit_and_follow(driver, "the files' restore")

    step("the restore operator publishes the point over NBD from the wizard; qemu-img reads it; Stop ends it")
    open_wizard(driver, "publish")
    Select(driver.find_element(By.ID, "restore-kind")).select_by_value("publish")
    driver.find_element(By.ID, "restore-reason").send_keys("console test")
    driver.find_element(By.CSS_SELECTOR, "#restore-form button[type=submit]").click()
    wait_for(driver, lambda d: d.find_elements(By.ID, "publish-state") and "serving" in d.find_element(By.ID, "publish-state").text
             and "nbd://" in d.find_element(By.ID, "publish-address").text, "the publish did not start serving", 120)
    uri = next(c.text for c in driver.find_elements(By.CSS_SELECTOR, "#publish-address code") if c.text.startswith("nbd://"))
    info = subprocess.run(["qemu-img", "info", "--output=json", uri], capture_output=True, text=True, timeout=60)
    if info.returncode != 0 or json.loads(info.stdout).get("virtual-size", 0) <= 0:
        fail(driver, f"qemu-img could not read {uri}: {info.stderr or info.stdout}")
    shoot(driver, "publish", "desktop")
    driver.find_element(By.ID, "publish-stop").click()
    wait_for(driver, lambda d: "stopped" in d.find_element(By.ID, "publish-state").text, "the publish did not stop", 60)
finally:
    driver.quit()

driver = browser(*sizes["desktop"])
try:
    step("an administrator edits the job as YAML: the preview says what would change, then it changes")
    sign_in(driver, "user-administrator", others_password)
    driver.get(url + f"/#/jobs/{job}")
    wait_for(driver, EC.presence_of_element_located((By.ID, "job-yaml")), "no YAML editor for an administrator")
    edited = driver.execute_script(
        "const t = document.getElementById('job-yaml');"
        "const before = t.value; t.value = t.value.replace(/^description:.*$/m, 'description: edited in the console');"
        "return t.value !== before")
    if not edited:
        fail(driver, "the YAML has no description line to edit")
    driver.find_element(By.ID, "job-yaml-preview").click()
    wait_for(driver, lambda d: "Would change" in d.find_element(By.ID, "job-yaml-outcome").text
             and "description" in d.find_element(By.ID, "job-yaml-outcome").text, "the preview did not say what would change")
    shoot(driver, "job-edit", "desktop")
    driver.find_element(By.ID, "job-yaml-apply").click()
    wait_for(driver, lambda d: "Changed" in d.find_element(By.ID, "job-yaml-outcome").text, "the change was not applied")
    wait_for(driver, lambda d: "edited in the console" in d.find_element(By.ID, "job-history").text
             and "api:user-administrator" in d.find_element(By.ID, "job-history").text,
             "the job's history does not show the change field by field under the administrator")
    driver.execute_script("document.getElementById('job-history').scrollIntoView()")
    shoot(driver, "job-history", "desktop")
    # The list reads the projection, which can trail the log a moment on a busy machine: reload until it shows.
    def shows_change(d):
        d.get(url + "/#/jobs")
        time.sleep(0.5)
        return "edited in the console" in d.find_element(By.ID, "main").text
    wait_for(driver, shows_change, "the jobs page does not show the change")

    step("the administrator approves another administrator's request to remove a job, from the audit page")
    approve = f"button[aria-label='Approve: remove job {pending_job}']"
    def shows_request(d):
        d.get(url + "/#/audit")
        time.sleep(0.5)
        return bool(d.find_elements(By.CSS_SELECTOR, approve))
    wait_for(driver, shows_request, "the pending removal is not in the audit page with an Approve button")
    if "api:second-admin" not in driver.find_element(By.ID, "approvals-pending").text:
        fail(driver, "the pending request does not say who asked")
    shoot(driver, "approvals", "desktop")
    driver.find_element(By.CSS_SELECTOR, approve).click()
    wait_for(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, approve)
             and "Nothing to show" in d.find_element(By.ID, "approvals-pending").text, "the approved request is still pending")
    gone = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/api/v1/jobs/' + arguments[0], {headers: {Accept: 'application/yaml'}}).then(r => done(r.status));", pending_job)
    if gone != 404:
        fail(driver, f"the job is still there after the approval (GET answered {gone})")

    step("the administrator checks the managed server from the infrastructure page")
    driver.get(url + "/#/infrastructure")
    wait_for(driver, EC.element_to_be_clickable((By.CSS_SELECTOR, "button[data-action='check']")), "no Check button for an administrator")
    driver.find_element(By.CSS_SELECTOR, "button[data-action='check']").click()
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".check-outcome .result-success")
             and " VM" in d.find_element(By.CSS_SELECTOR, ".check-outcome").text
             and "api:user-administrator" in d.find_element(By.CSS_SELECTOR, ".check-outcome").text, "the check's outcome did not show")
    shoot(driver, "server-check", "desktop")
finally:
    driver.quit()

driver = browser(*sizes["desktop"])
try:
    step("the audit page lists the operator's start and the restore operator's restore, each under its user")
    sign_in(driver, "user-auditor", others_password)
    driver.get(url + "/#/audit")
    wait_for(driver, lambda d: "api:user-operator" in d.find_element(By.ID, "main").text, "the operator's start is not in the audit page")
    rows = [row.text for row in driver.find_elements(By.CSS_SELECTOR, "main tbody tr")]
    if not any("api:user-restore-operator" in row and "RestoreRequested" in row for row in rows):
        fail(driver, "the restore is not in the audit page under the restore operator")
    shoot(driver, "audit", "desktop")
finally:
    driver.quit()
step("accessibility: axe-core found nothing against WCAG 2.1 A and AA on any page shown")
if violations:
    print(f"FAILED: {len(violations)} accessibility violations (listed above, page by page)", flush=True)
    sys.exit(1)
print("console: every step passed", flush=True)

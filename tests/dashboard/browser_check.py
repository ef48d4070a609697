"""The dashboard in headless Chromium (driven by chromedriver over WebDriver), as account A.

Environment: DRIVER_URL, DASHBOARD_URL, CA_BUNDLE, CRED_A, KID_A, KID_B, NAME_A1 (a name of A's
certificate issued before), NAME_B (B's), NAME_A2 and ISSUE_A2 (a shell command issuing a new
certificate for A with that name while the page is open), SCREENSHOT (where to save the PNG),
CHROME_PROFILE (a temporary user data directory). Prints "ok   - ..." / "FAIL - ..." lines; exit 1 on
any failure.
"""
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import webdriver  # noqa: E402

env = os.environ
fails = 0


def ok(msg):
    print("ok   - " + msg, flush=True)


def fail(msg):
    global fails
    fails += 1
    print("FAIL - " + msg, flush=True)


def wait_for_text(s, needle, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if needle in s.text("body"):
                return True
        except webdriver.WebDriverError:
            pass
        time.sleep(0.2)
    return False


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


tls = ssl.create_default_context(cafile=env["CA_BUNDLE"])
opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=tls), NoRedirect)


def http(path, cookie=None, data=None):
    headers = {"Cookie": cookie} if cookie else {}
    req = urllib.request.Request(env["DASHBOARD_URL"] + path, data=data, headers=headers)
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers


def main():
    s = webdriver.Session(env["DRIVER_URL"], {
        "browserName": "chrome",
        "acceptInsecureCerts": True,
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--user-data-dir=" + env["CHROME_PROFILE"], "--window-size=1280,1400"]}})
    try:
        s.set_window(1280, 1400)
        s.get(env["DASHBOARD_URL"] + "/")
        s.type("#credential", env["CRED_A"])
        s.click("#login")
        if wait_for_text(s, env["NAME_A1"], 15):
            ok(f"logged in as A: the page lists A's certificate {env['NAME_A1']}")
        else:
            fail("A's certificate not on the page after login: " + s.text("body")[:400])
            return
        body = s.text("body")
        if env["NAME_B"] not in body and env["KID_B"] not in body:
            ok("B's certificate and KeyID are nowhere on A's page")
        else:
            fail("A's page shows B's data")
        if env["KID_A"] in body:
            ok("the page names A's KeyID")
        else:
            fail("A's KeyID is not on the page")
        # A marker that a reload would lose: the new certificate must appear without one.
        s.script("window.__noReload = 'still here'; return 1;")
        issue = subprocess.run(["bash", "-c", env["ISSUE_A2"]], capture_output=True, text=True)
        issued_at = time.monotonic()
        if issue.returncode != 0:
            fail("lego could not issue A's second certificate: " + issue.stdout[-300:] +
                 issue.stderr[-300:])
            return
        if wait_for_text(s, env["NAME_A2"], 5):
            ok(f"{env['NAME_A2']}, issued with lego while the page was open, appeared after "
               f"{time.monotonic() - issued_at:.1f} s (limit 5 s)")
        else:
            fail(f"{env['NAME_A2']} did not appear within 5 s of its issuance")
        if s.script("return window.__noReload || null;") == "still here":
            ok("without reloading the page")
        else:
            fail("the page was reloaded")
        body = s.text("#failures")
        if "outside-" in body and "refused" in body:
            ok("A's refused order is listed among its failures")
        else:
            fail("A's refused order is not among its failures: " + body[:300])
        # A revocation by the RA: the engine applies it within seconds, the page shows it.
        revoke = subprocess.run(["bash", "-c", env["REVOKE_A1"]], capture_output=True, text=True)
        revoked_at = time.monotonic()
        if revoke.returncode != 0:
            fail("ca-ra cert revoke: " + revoke.stderr[-300:])
        elif wait_for_text(s, "revoked (superseded)", 10):
            ok(f"the RA's revocation of {env['NAME_A1']} shows on the open page after "
               f"{time.monotonic() - revoked_at:.1f} s (engine apply + dashboard)")
        else:
            fail("the revocation did not show within 10 s")
        time.sleep(2.5)  # the chart image, redrawn with the view
        with open(env["SCREENSHOT"], "wb") as f:
            f.write(s.screenshot_png())
        ok("screenshot saved to " + env["SCREENSHOT"])

        cookie = next((c for c in s.cookies() if c["name"] == "ca_dashboard_session"), None)
        if cookie and cookie.get("httpOnly") and cookie.get("secure") and \
                cookie.get("sameSite") == "Strict":
            ok("session cookie is HttpOnly, Secure, SameSite=Strict")
        else:
            fail(f"session cookie: {cookie}")
        if s.script("return document.cookie;") == "":
            ok("the page's script cannot read the session cookie")
        jar = "ca_dashboard_session=" + (cookie["value"] if cookie else "")
        for path in (f"/api/accounts/{env['KID_B']}", f"/api/accounts/{env['KID_B']}/chart.svg",
                     "/api/accounts/00000000-0000-4000-8000-000000000000"):
            code, text, _ = http(path, jar)
            if code == 403 and env["NAME_B"] not in text:
                ok(f"A's browser session asking for {path}: 403")
            else:
                fail(f"A's browser session asking for {path}: {code} {text[:200]}")
        code, text, _ = http(f"/api/accounts/{env['KID_A']}", jar)
        if code == 200 and env["NAME_A2"] in text:
            ok("A's session reads A's data (200, with the new certificate)")
            refused = [f for f in json.loads(text)["failures"] if "outside-" in f["name"]]
            if refused and refused[0]["result_code"]:
                ok(f"the refusal carries its result code ({refused[0]['result_code']})")
            else:
                fail(f"refusal without its result code: {refused}")
        else:
            fail(f"A's own data: {code}")
        code, _, _ = http(f"/api/accounts/{env['KID_B']}")
        if code == 401:
            ok("no session: 401")
        else:
            fail(f"no session: {code}")
        # A's credential used directly (form login over HTTP), then B's data: refused.
        form = urllib.parse.urlencode({"credential": env["CRED_A"]}).encode()
        code, _, headers = http("/login", data=form)
        set_cookie = headers.get("Set-Cookie", "")
        own = set_cookie.split(";")[0]
        code_b, text_b, _ = http(f"/api/accounts/{env['KID_B']}", own)
        if code == 303 and own.startswith("ca_dashboard_session=") and code_b == 403:
            ok("A's credential (form login), asking for B's account: 403")
        else:
            fail(f"A's credential for B's data: login {code}, then {code_b} {text_b[:200]}")
        code, _, headers = http("/")
        csp = headers.get("Content-Security-Policy", "")
        if "default-src 'self'" in csp and headers.get("X-Frame-Options") == "DENY":
            ok("CSP default-src 'self' and X-Frame-Options DENY")
        else:
            fail(f"security headers: {dict(headers)}")
    finally:
        s.quit()


main()
sys.exit(1 if fails else 0)

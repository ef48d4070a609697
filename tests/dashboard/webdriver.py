"""A minimal W3C WebDriver client over urllib (no selenium needed): enough to drive chromedriver."""
import json
import urllib.error
import urllib.request

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


class WebDriverError(Exception):
    pass


class Session:
    def __init__(self, driver_url, capabilities):
        self.base = driver_url.rstrip("/")
        value = self._call("POST", "/session", {"capabilities": {"alwaysMatch": capabilities}})
        self.id = value["sessionId"]

    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.load(r)["value"]
        except urllib.error.HTTPError as e:
            raise WebDriverError(f"{method} {path}: {e.code} {e.read()[:500]!r}") from None

    def cmd(self, method, path, body=None):
        return self._call(method, f"/session/{self.id}{path}", body)

    def get(self, url):
        self.cmd("POST", "/url", {"url": url})

    def find(self, css):
        value = self.cmd("POST", "/element", {"using": "css selector", "value": css})
        if not isinstance(value, dict) or ELEMENT not in value:
            raise WebDriverError(f"find {css}: {value!r}")
        return value[ELEMENT]

    def type(self, css, text):
        self.cmd("POST", f"/element/{self.find(css)}/value", {"text": text})

    def click(self, css):
        self.cmd("POST", f"/element/{self.find(css)}/click", {})

    def text(self, css="body"):
        return self.cmd("GET", f"/element/{self.find(css)}/text")

    def url(self):
        return self.cmd("GET", "/url")

    def cookies(self):
        return self.cmd("GET", "/cookie")

    def script(self, source, args=None):
        return self.cmd("POST", "/execute/sync", {"script": source, "args": args or []})

    def set_window(self, width, height):
        self.cmd("POST", "/window/rect", {"width": width, "height": height})

    def screenshot_png(self):
        import base64
        return base64.b64decode(self.cmd("GET", "/screenshot"))

    def quit(self):
        try:
            self._call("DELETE", f"/session/{self.id}")
        except Exception:  # the driver is stopped by PID anyway
            pass

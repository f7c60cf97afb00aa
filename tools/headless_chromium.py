"""Drive headless Chromium as a user would: open a page, click, press keys, read the page, take screenshots.

It speaks the Chrome DevTools protocol over the pipe that ``--remote-debugging-pipe`` opens (file
descriptors 3 and 4 of the browser, messages ending in a NUL byte), so it needs only the standard
library and a Chromium binary: Debian's ``chromium`` (``make browser`` installs it where it can). Clicks
and keys are real input events dispatched at the page's coordinates, as a mouse and keyboard send them.

    with Chromium(width=1400, height=900) as browser:
        browser.open("file:///tmp/steps.html")
        browser.click("button[data-act=next]")
        browser.press("ArrowRight")
        print(browser.evaluate("document.title"))
        browser.screenshot("page.png")
"""
import base64
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time

__all__ = ["Chromium", "BrowserError", "find_chromium", "INSTALL_HINT"]

INSTALL_HINT = ("no Chromium found (looked for chromium, chromium-browser, google-chrome, chrome and "
                "$CHROMIUM): install Debian's package with `make browser` (as root: apt-get install "
                "chromium), or set CHROMIUM to a Chrome or Chromium binary")

# key name -> (code, Windows virtual key code, text it types)
_KEYS = {
    "ArrowRight": ("ArrowRight", 39, ""), "ArrowLeft": ("ArrowLeft", 37, ""),
    "ArrowUp": ("ArrowUp", 38, ""), "ArrowDown": ("ArrowDown", 40, ""),
    "Home": ("Home", 36, ""), "End": ("End", 35, ""), " ": ("Space", 32, " "),
    "Enter": ("Enter", 13, "\r"), "Tab": ("Tab", 9, ""), "Escape": ("Escape", 27, ""),
    "+": ("Equal", 187, "+"), "=": ("Equal", 187, "="), "-": ("Minus", 189, "-"), "0": ("Digit0", 48, "0"),
}


class BrowserError(RuntimeError):
    """The browser could not start, a command failed, or the page raised an error."""


def find_chromium():
    """The path of a Chromium or Chrome binary, or None."""
    candidates = [os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome",
                  "google-chrome-stable", "chrome"]
    for name in candidates:
        if name:
            path = shutil.which(name)
            if path:
                return path
    return None


class Chromium:
    """One headless browser with one page (a tab) of ``width`` × ``height`` CSS pixels."""

    def __init__(self, width=1400, height=900, binary=None, timeout=20.0):
        self.binary = binary or find_chromium()
        if self.binary is None:
            raise BrowserError(INSTALL_HINT)
        self.timeout = timeout
        self.errors = []           # uncaught exceptions and console errors of the page
        self._home = tempfile.mkdtemp(prefix="numbagrad-chromium-")
        self._profile = os.path.join(self._home, "profile")
        # the browser's own messages go to a file: a pipe nobody reads would fill and stall it
        self._log = open(os.path.join(self._home, "stderr.log"), "w+b")
        self._next_id = 0
        self._replies, self._events = {}, []
        self._cond = threading.Condition()
        # the browser reads commands on its fd 3 and writes replies on its fd 4
        to_browser_r, self._to_browser = _high_pipe()
        self._from_browser, from_browser_w = _high_pipe()

        def child_fds():
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        args = [self.binary, "--headless", "--remote-debugging-pipe", "--no-first-run",
                "--no-default-browser-check", "--disable-gpu", "--disable-extensions",
                "--disable-background-networking", "--disable-sync", "--mute-audio",
                "--hide-scrollbars", "--allow-file-access-from-files", f"--user-data-dir={self._profile}",
                f"--window-size={width},{height}", "about:blank"]
        if os.geteuid() == 0:
            args.append("--no-sandbox")   # Chromium refuses to run as root with its sandbox
        self._process = subprocess.Popen(args, preexec_fn=child_fds, close_fds=False,
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=self._log)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        try:
            targets = self.send("Target.getTargets")["targetInfos"]
            page = next(t for t in targets if t["type"] == "page")
            self._session = self.send("Target.attachToTarget", targetId=page["targetId"],
                                      flatten=True)["sessionId"]
            for domain in ("Page", "Runtime"):
                self.send(f"{domain}.enable", session=True)
            self.resize(width, height)
        except Exception:
            self.close()
            raise

    # ------------------------------------------------------------------ protocol
    def _read(self):
        buffer = b""
        while True:
            try:
                chunk = os.read(self._from_browser, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._events.append({"method": "closed"})
                    self._cond.notify_all()
                return
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            with self._cond:
                for raw in messages:
                    message = json.loads(raw)
                    if "id" in message:
                        self._replies[message["id"]] = message
                    else:
                        self._note(message)
                        self._events.append(message)
                self._cond.notify_all()

    def _note(self, message):
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            self.errors.append(f"uncaught: {text}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append("console.error: " + " ".join(str(a.get("value", a.get("description")))
                                                            for a in params.get("args", [])))

    def send(self, method, session=False, **params):
        """Send one protocol command (to the page when ``session``); return its result."""
        with self._cond:
            self._next_id += 1
            ident = self._next_id
        message = {"id": ident, "method": method, "params": params}
        if session:
            message["sessionId"] = self._session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        with self._cond:
            while ident not in self._replies:
                if self._process.poll() is not None:
                    raise BrowserError(f"Chromium exited ({self._process.returncode}) during {method}: "
                                       f"{self._stderr_tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BrowserError(f"Chromium did not answer {method} within {self.timeout:g} s")
                self._cond.wait(min(left, 0.5))
            reply = self._replies.pop(ident)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error'].get('message')} {reply['error'].get('data', '')}")
        return reply.get("result", {})

    def _wait_event(self, method, since):
        deadline = time.monotonic() + self.timeout
        with self._cond:
            while True:
                for event in self._events[since:]:
                    if event.get("method") == method:
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BrowserError(f"no {method} within {self.timeout:g} s")
                self._cond.wait(min(left, 0.5))

    def _stderr_tail(self):
        self._log.flush()
        self._log.seek(0)
        return self._log.read()[-2000:].decode(errors="replace")

    # ------------------------------------------------------------------ what a user does
    def resize(self, width, height):
        """Make the viewport ``width`` × ``height`` CSS pixels (a window of that size)."""
        self.width, self.height = width, height
        self.send("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def open(self, url, fresh=False):
        """Load ``url`` and wait for its load event. A URL that differs from the page's only after "#"
        just moves within the page (as in a browser), unless ``fresh``, which loads it anew."""
        if fresh:
            self.open("about:blank")
        with self._cond:
            since = len(self._events)
        result = self.send("Page.navigate", session=True, url=url)
        if result.get("errorText"):
            raise BrowserError(f"could not open {url}: {result['errorText']}")
        if "loaderId" in result:   # absent for a move within the same document: no load event follows
            self._wait_event("Page.loadEventFired", since)

    def evaluate(self, expression):
        """The value of a JavaScript expression in the page (JSON-like values come back as Python's)."""
        result = self.send("Runtime.evaluate", session=True, expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise BrowserError(f"{expression!r} raised "
                               f"{details.get('exception', {}).get('description') or details.get('text')}")
        return result["result"].get("value")

    def wait_for(self, expression, timeout=None):
        """Poll until the expression is truthy; returns its value."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out waiting for {expression!r}")
            time.sleep(0.05)

    def click(self, selector):
        """Click the middle of the element that ``selector`` finds, with the mouse: it must be on screen
        and not covered by another element."""
        box = self.evaluate(f"""(function() {{
            var e = document.querySelector({json.dumps(selector)});
            if (!e) return null;
            var r = e.getBoundingClientRect(), x = r.left + r.width / 2, y = r.top + r.height / 2;
            var hit = document.elementFromPoint(x, y);
            return {{x: x, y: y, w: r.width, h: r.height, hit: !!hit && (hit === e || e.contains(hit))}};
        }})()""")
        if box is None:
            raise BrowserError(f"click: no element matches {selector!r}")
        if box["w"] <= 0 or box["h"] <= 0 or not box["hit"]:
            raise BrowserError(f"click: {selector!r} is not visible at ({box['x']:.0f}, {box['y']:.0f})")
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", session=True, type=kind, x=box["x"], y=box["y"],
                      button="left", buttons=1 if kind == "mousePressed" else 0, clickCount=1)

    def press(self, key):
        """Press and release one key ("ArrowRight", " ", "Home", "End", "+", ...)."""
        code, virtual, text = _KEYS.get(key, (key, 0, key if len(key) == 1 else ""))
        down = dict(type="keyDown" if text else "rawKeyDown", key=key, code=code,
                    windowsVirtualKeyCode=virtual, nativeVirtualKeyCode=virtual)
        if text:
            down.update(text=text, unmodifiedText=text)
        self.send("Input.dispatchKeyEvent", session=True, **down)
        self.send("Input.dispatchKeyEvent", session=True, type="keyUp", key=key, code=code,
                  windowsVirtualKeyCode=virtual, nativeVirtualKeyCode=virtual)

    def screenshot(self, path, full_page=False, below=None):
        """Write a PNG of the viewport (or of the whole page) to ``path``; returns ``path``. ``below``: a
        selector; the picture ends a few pixels under that element."""
        params = {"format": "png"}
        if full_page:
            size = self.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1})
        elif below:
            bottom = self.evaluate(f"document.querySelector({json.dumps(below)}).getBoundingClientRect().bottom")
            params["clip"] = {"x": 0, "y": 0, "width": self.width,
                              "height": min(self.height, int(bottom) + 10), "scale": 1}
        data = self.send("Page.captureScreenshot", session=True, **params)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path

    # ------------------------------------------------------------------ lifetime
    def close(self):
        if self._process.poll() is None:
            try:
                os.write(self._to_browser, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
                self._process.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait()
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        self._log.close()
        shutil.rmtree(self._home, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _high_pipe():
    """A pipe whose ends are numbered 10 and up, so that moving them to 3 and 4 in the child cannot
    overwrite one with the other."""
    read, write = os.pipe()
    high = (fcntl.fcntl(read, fcntl.F_DUPFD_CLOEXEC, 10), fcntl.fcntl(write, fcntl.F_DUPFD_CLOEXEC, 10))
    os.close(read)
    os.close(write)
    return high

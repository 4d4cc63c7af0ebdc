"""Headless Chromium for the HTML report tests: screenshots, the DOM after the page's own
script ran (``--dump-dom``), and the DOM with JavaScript off.

``--dump-dom`` prints nothing when scripts are disabled (it serializes the page with
script), so ``dom_without_script`` asks the browser itself over the DevTools protocol on
a pipe (``--remote-debugging-pipe``: no port, no network), launched with
``--blink-settings=scriptEnabled=false``: ``DOM.getOuterHTML`` reads the document as the
browser built it, with no script of the page ever run.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM = next((found for name in BROWSERS if (found := shutil.which(name))), None)
"""The browser to use, or None: tests skip, saying why."""

MISSING = (
    "no Chromium on PATH (Debian: apt-get install -y chromium); the HTML report is checked "
    "in a browser only where one is installed"
)
QUIET_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
NO_SCRIPT = "--blink-settings=scriptEnabled=false"
LIMIT_SECONDS = 180
"""Only a guard against a hung browser: no assertion depends on time."""


def _command(profile: Path, *args: str) -> list[str]:
    assert CHROMIUM is not None
    profile.mkdir(parents=True, exist_ok=True)
    return [CHROMIUM, *QUIET_FLAGS, f"--user-data-dir={profile}", *args]


def chromium(profile: Path, *args: str) -> str:
    """Run headless Chromium with a fresh profile directory; its stdout."""
    done = subprocess.run(
        _command(profile, *args),
        capture_output=True,
        text=True,
        timeout=LIMIT_SECONDS,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


class _Pipe:
    """The DevTools protocol over fds 3 (to the browser) and 4 (from it), NUL-framed."""

    def __init__(self, to_browser: int, from_browser: int) -> None:
        self._out = os.fdopen(to_browser, "wb", buffering=0)
        self._in = os.fdopen(from_browser, "rb", buffering=0)
        self._buffer = b""
        self._next_id = 0

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        self._out.write(json.dumps(message).encode() + b"\0")
        while True:
            reply = self.read()
            if reply.get("id") == self._next_id:
                assert "error" not in reply, reply
                result: dict[str, Any] = reply.get("result", {})
                return result

    def wait_for(self, event: str) -> None:
        while self.read().get("method") != event:
            pass

    def read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = self._in.read(65536)
            assert chunk, "the browser closed the DevTools pipe"
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def close(self) -> None:
        self._out.close()
        self._in.close()


def dom_without_script(profile: Path, url: str, *, screenshot: Path | None = None) -> str:
    """The document at ``url`` as Chromium builds it with JavaScript disabled; with
    ``screenshot``, also a 1280x900 PNG of its first screen there."""
    to_browser_read, to_browser_write = os.pipe()
    from_browser_read, from_browser_write = os.pipe()

    def wire_fds() -> None:
        # Out of the way first: a pipe may itself be fd 3 or 4, and dup2 onto itself
        # would leave it close-on-exec.
        reading = fcntl.fcntl(to_browser_read, fcntl.F_DUPFD, 10)
        writing = fcntl.fcntl(from_browser_write, fcntl.F_DUPFD, 10)
        os.dup2(reading, 3)
        os.dup2(writing, 4)

    process = subprocess.Popen(
        _command(profile, NO_SCRIPT, "--remote-debugging-pipe", "about:blank"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=wire_fds,  # only dup2 before exec
        close_fds=False,
    )
    os.close(to_browser_read)
    os.close(from_browser_write)
    pipe = _Pipe(to_browser_write, from_browser_read)
    try:
        target = pipe.call("Target.createTarget", url="about:blank")["targetId"]
        session = pipe.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        pipe.call("Page.enable", session)
        pipe.call("Page.navigate", session, url=url)
        pipe.wait_for("Page.loadEventFired")
        root = pipe.call("DOM.getDocument", session, depth=-1)["root"]["nodeId"]
        html: str = pipe.call("DOM.getOuterHTML", session, nodeId=root)["outerHTML"]
        if screenshot is not None:
            pipe.call(
                "Emulation.setDeviceMetricsOverride",
                session,
                width=1280,
                height=900,
                deviceScaleFactor=1,
                mobile=False,
            )
            shot = pipe.call("Page.captureScreenshot", session, format="png")["data"]
            screenshot.write_bytes(base64.b64decode(shot))
        pipe.call("Browser.close")
    finally:
        pipe.close()
        try:
            process.wait(timeout=LIMIT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return html

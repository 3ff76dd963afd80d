"""A real browser for the tests: Debian's headless Chromium, driven over the DevTools protocol on a pipe (no port,
no network), loads a file from disk and reports what a person would see: console messages, page errors, the
requests it made, what a script of ours finds in the DOM, and a screenshot."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CANDIDATES = ("chromium-headless-shell", "chromium")  # `make browser-deps` installs the first


def executable() -> str | None:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    for path in ("/usr/lib/chromium-headless-shell/chromium-headless-shell", "/usr/lib/chromium/chromium"):
        if os.access(path, os.X_OK):
            return path
    return None


@dataclass
class Page:
    console: list[dict[str, Any]] = field(default_factory=list)  # every console message: type and text
    errors: list[str] = field(default_factory=list)  # uncaught exceptions and error-level log entries
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    value: Any = None  # what the `evaluate` expression returned (JSON)
    version: str = ""


class _Pipe:
    """The DevTools protocol over --remote-debugging-pipe: JSON messages separated by NUL bytes, fd 3 in, fd 4 out."""

    def __init__(self, binary: str, profile: str) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire() -> None:  # in the child, before exec: its fds 3 and 4 are the pipe ends
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.proc = subprocess.Popen(
            [
                binary,
                "--headless",
                "--remote-debugging-pipe",
                "--no-sandbox",  # the tests run as root in CI; the page is our own file
                "--disable-gpu",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire,  # noqa: PLW1509 - dup2 only, no locks
            pass_fds=(3, 4),
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> int:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        return self._next

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("no answer from the browser")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("the browser closed the DevTools pipe")
            self._buffer += chunk
        raw, _nul, self._buffer = self._buffer.partition(b"\0")
        return json.loads(raw)  # type: ignore[no-any-return]

    def call(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None, timeout: float = 30
    ) -> dict[str, Any]:
        wanted = self.send(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            message = self._read(deadline)
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result") or {}
            if "method" in message:
                self.events.append(message)

    def wait_for(self, method: str, timeout: float = 30) -> dict[str, Any]:
        for i, event in enumerate(self.events):
            if event["method"] == method:
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            message = self._read(deadline)
            if "method" in message:
                if message["method"] == method:
                    return message
                self.events.append(message)

    def close(self) -> None:
        try:
            self.send("Browser.close")
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        finally:
            os.close(self._to_browser)
            os.close(self._from_browser)


def load(path: Path, evaluate: str, screenshot: Path | None = None, width: int = 1400) -> Page:
    """Open `path` (file://), wait for its load event, run `evaluate` (an expression giving a JSON-able value)
    and, with `screenshot`, save the whole page as PNG."""
    binary = executable()
    if binary is None:
        raise FileNotFoundError("no headless Chromium: make browser-deps")
    page = Page()
    with tempfile.TemporaryDirectory(prefix="tke-net-chromium-") as profile:
        pipe = _Pipe(binary, profile)
        try:
            page.version = pipe.call("Browser.getVersion").get("product", "")
            targets = pipe.call("Target.getTargets")["targetInfos"]
            target = next(t["targetId"] for t in targets if t["type"] == "page")
            session = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Runtime", "Log", "Network", "Page"):
                pipe.call(f"{domain}.enable", session=session)
            pipe.call(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
                session=session,
            )
            navigated = pipe.call("Page.navigate", {"url": path.resolve().as_uri()}, session=session)
            if navigated.get("errorText"):  # a file that is not there loads Chromium's error page, silently
                raise RuntimeError(f"cannot load {path}: {navigated['errorText']}")
            pipe.wait_for("Page.loadEventFired")
            result = pipe.call(
                "Runtime.evaluate",
                {"expression": evaluate, "returnByValue": True, "awaitPromise": True},
                session=session,
            )
            if "exceptionDetails" in result:
                raise RuntimeError(f"evaluate failed: {result['exceptionDetails']}")
            page.value = result["result"].get("value")
            if screenshot is not None:
                metrics = pipe.call("Page.getLayoutMetrics", session=session)
                size = metrics.get("cssContentSize") or metrics["contentSize"]
                shot = pipe.call(
                    "Page.captureScreenshot",
                    {
                        "format": "png",
                        "captureBeyondViewport": True,
                        "clip": {"x": 0, "y": 0, "width": width, "height": size["height"], "scale": 1},
                    },
                    session=session,
                )
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                screenshot.write_bytes(base64.b64decode(shot["data"]))
            pipe.call("Runtime.evaluate", {"expression": "1"}, session=session)  # flush pending events
        finally:
            pipe.close()
    for event in pipe.events:
        params = event.get("params") or {}
        if event["method"] == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args") or [])
            page.console.append({"type": params.get("type"), "text": text})
            if params.get("type") in ("error", "assert"):
                page.errors.append(f"console.{params.get('type')}: {text}")
        elif event["method"] == "Runtime.exceptionThrown":
            page.errors.append("exception: " + json.dumps(params.get("exceptionDetails"))[:500])
        elif event["method"] == "Log.entryAdded":
            entry = params.get("entry") or {}
            page.console.append({"type": entry.get("level"), "text": entry.get("text", "")})
            if entry.get("level") == "error":
                page.errors.append(f"{entry.get('source')}: {entry.get('text')}")
        elif event["method"] == "Network.requestWillBeSent":
            page.requests.append(str((params.get("request") or {}).get("url")))
    return page

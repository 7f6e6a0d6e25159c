"""Open a page in real headless Chromium and report what a person would see go wrong.

Chromium is driven through its DevTools protocol over a pipe (``--remote-debugging-pipe``: it
reads JSON commands, each ended by a NUL byte, on file descriptor 3 and writes replies and
events on 4), so no driver package is needed. :func:`inspect` returns the console messages
and uncaught exceptions, every image's decoded size, and a screenshot.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class _Pipe:
    def __init__(self, binary: str, profile: str):
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def child_fds():  # fds 3 and 4 in Chromium, as --remote-debugging-pipe expects
            read, write = os.dup(to_chrome_r), os.dup(from_chrome_w)  # clear of 3 and 4
            os.dup2(read, 3)
            os.dup2(write, 4)

        self.proc = subprocess.Popen(
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--remote-debugging-pipe", f"--user-data-dir={profile}", "--no-first-run",
             "--disable-extensions", "--disable-background-networking",
             "--window-size=1280,900", "about:blank"],
            preexec_fn=child_fds, close_fds=False,  # (closing runs after preexec_fn)
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 60) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self._read()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)
        raise TimeoutError(method)

    def wait_for(self, method: str, timeout: float = 60) -> dict:
        for event in self.events:
            if event.get("method") == method:
                return event
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            event = self._read()
            self.events.append(event)
            if event.get("method") == method:
                return event
        raise TimeoutError(method)

    def _read(self) -> dict:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_chrome, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed its pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except Exception:  # noqa: BLE001 - it is going away either way
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        os.close(self._to_chrome)
        os.close(self._from_chrome)


IMAGES = ("JSON.stringify(Array.from(document.images).map(i => "
          "({name: i.dataset.name || i.alt, complete: i.complete, "
          "width: i.naturalWidth, height: i.naturalHeight})))")


def inspect(page: Path, binary: str) -> dict:
    """Load ``page`` (a file) and return {"console": [...], "errors": [...], "images":
    [{name, complete, width, height}], "screenshot": PNG bytes}."""
    with tempfile.TemporaryDirectory(prefix="nncli-chromium-") as profile:
        pipe = _Pipe(binary, profile)
        try:
            target = pipe.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = pipe.send("Target.attachToTarget",
                                {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log"):
                pipe.send(f"{domain}.enable", session=session)
            pipe.send("Page.navigate", {"url": Path(page).resolve().as_uri()}, session=session)
            pipe.wait_for("Page.loadEventFired")
            images = json.loads(pipe.send("Runtime.evaluate", {"expression": IMAGES},
                                          session=session)["result"]["value"])
            shot = pipe.send("Page.captureScreenshot", {"format": "png"}, session=session)
            console = [e["params"] for e in pipe.events
                       if e.get("method") in ("Runtime.consoleAPICalled", "Log.entryAdded")]
            errors = [e["params"] for e in pipe.events
                      if e.get("method") == "Runtime.exceptionThrown"]
            return {"console": console, "errors": errors, "images": images,
                    "screenshot": base64.b64decode(shot["data"])}
        finally:
            pipe.close()

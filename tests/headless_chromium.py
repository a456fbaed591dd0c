"""A headless Chromium driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`).

Standard library only: no WebDriver and no websocket client. The browser reads protocol messages on its file
descriptor 3 and writes replies on 4, each a JSON text ended by a NUL byte. Tests use it to load a page and
read what it renders, the way a user would see it."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

NAMES = ("chromium", "chromium-browser", "google-chrome")


def find() -> str | None:
    """The browser on PATH (Debian's package `chromium` installs /usr/bin/chromium), or None."""
    return next((path for name in NAMES if (path := shutil.which(name))), None)


class Chromium:
    def __init__(self, executable: str, profile: Path) -> None:
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()

        def protocol_fds() -> None:  # in the child, before exec: the pipe ends become fds 3 and 4
            os.dup2(to_browser_read, 3)
            os.dup2(from_browser_write, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        self.process = subprocess.Popen(  # noqa: S603 (the browser found on PATH, fixed arguments)
            [executable, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=protocol_fds, close_fds=False)  # only fds 3 and 4 are inheritable (PEP 446)
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._buffer = b""
        self._next_id = 0

    def call(self, method: str, session: str | None = None, timeout: float = 30, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self._next_id:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    result: dict[str, Any] = reply.get("result", {})
                    return result
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{method}: no reply in {timeout:g} s")
            if select.select([self._from_browser], [], [], left)[0]:
                chunk = os.read(self._from_browser, 1 << 16)
                if not chunk:
                    raise RuntimeError("the browser closed its protocol pipe")
                self._buffer += chunk

    def page_text(self, url: str, wanted: tuple[str, ...], timeout: float = 60) -> str:
        """The page's rendered text (`innerText`) once it holds every `wanted` string, or after `timeout`."""
        target = self.call("Target.createTarget", url=url)["targetId"]
        session = str(self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"])
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            reply = self.call("Runtime.evaluate", session, expression="document.body ? document.body.innerText : ''",
                              returnByValue=True)
            text = str(reply.get("result", {}).get("value", ""))
            if all(w in text for w in wanted):
                break
            time.sleep(0.25)
        return text

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        os.close(self._to_browser)
        os.close(self._from_browser)

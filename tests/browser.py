"""Shared helpers for driving the real app in headless Chromium.

Used by ``tests/test_browser.py`` (pytest puts this folder on ``sys.path``) and by
the benchmarks (``benchmarks/common.py`` does the same). The server is started
exactly as ``make run`` starts it, only headless and on a free port, in its own
process group so that stopping it also stops the forkserver and every trainer.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic",
                 "--no-first-run"]
VIEWPORT = {"width": 1366, "height": 768}
LOAD_TIMEOUT_MS = 30_000  # a cold first load imports torch in the forkserver


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def python_bin() -> str:
    candidate = VENV_BIN / "python"
    return str(candidate) if candidate.exists() else sys.executable


class AppServer:
    """One ``streamlit run`` process (and its descendants) on a free port."""

    def __init__(self, script: str = "app.py", env: dict[str, str] | None = None,
                 cwd: Path = ROOT, log_path: Path | None = None) -> None:
        self.script, self.cwd = script, cwd
        self.env = {**os.environ, **(env or {})}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path or Path(f"/tmp/playground-server-{self.port}.log")
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> AppServer:
        cmd = [python_bin(), "-m", "playground", "serve", self.script,
               "--server.headless", "true", "--server.port", str(self.port),
               "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"]
        self._log = open(self.log_path, "wb")  # closed in stop()
        # a new session (and process group) so stop() can kill the whole tree at once
        self.proc = subprocess.Popen(cmd, cwd=self.cwd, env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"server exited early; see {self.log_path}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as reply:
                    if reply.status == 200 and reply.read().strip() == b"ok":
                        return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"server not healthy within {timeout} s; see {self.log_path}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def tree(self) -> list[psutil.Process]:
        """The server process and all its descendants (forkserver, trainers, tracker)."""
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def stop(self) -> None:
        """SIGTERM the process group, then SIGKILL whatever is left (group or strays)."""
        if self.proc is None:
            return
        survivors = self.tree()  # remembered in case a child left the group
        for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 3.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            for proc in survivors:
                if sig == signal.SIGKILL:
                    try:
                        proc.kill()
                    except psutil.Error:
                        pass
            _, alive = psutil.wait_procs(survivors, timeout=grace)
            survivors = alive
            if not survivors:
                break
        try:
            self.proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            pass
        self._log.close()
        self.proc = None


@contextmanager
def running_app(script: str = "app.py", env: dict[str, str] | None = None, **kwargs):
    server = AppServer(script, env, **kwargs).start()
    try:
        yield server
    finally:
        server.stop()


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)


# -- page helpers ------------------------------------------------------------------------
def button(page, key: str):
    """A keyed Streamlit button. Streamlit keeps a hidden copy of each button for
    measuring its width, so ``.st-key-<key> button`` alone matches two elements."""
    return page.locator(f".st-key-{key} button:visible").first


def transport(page, name: str):
    """A transport button of the live view: play, step, restart (same start) or reset."""
    return page.locator(f'[data-testid="pg-{name}"]')


def open_playground(page, url: str, timeout_ms: int = LOAD_TIMEOUT_MS) -> None:
    """Load the page and wait until the live view shows its first frame."""
    page.goto(url, wait_until="domcontentloaded", timeout=timeout_ms)
    page.locator('[data-testid="pg-epoch"]').wait_for(state="visible", timeout=timeout_ms)
    page.wait_for_function("() => (window.__pgStats || {}).messages > 0", timeout=timeout_ms)


def stats(page) -> dict:
    """The live view's counters: redraws, messages, epoch (last drawn)."""
    return page.evaluate("() => ({...(window.__pgStats || {redraws: 0, messages: 0, epoch: 0})})")


def shown_epoch(page) -> int:
    text = page.locator('[data-testid="pg-epoch"]').inner_text()
    return int(text.replace("Epoch", "").replace(",", "").strip())


def play_label(page) -> str:
    return transport(page, "play").inner_text()


def wait_label(page, word: str, timeout: float = 10.0) -> None:
    """Wait for the play/pause button's label (it follows the session's frames)."""
    deadline = time.monotonic() + timeout
    while word not in play_label(page):
        if time.monotonic() > deadline:
            raise TimeoutError(f"play button never showed {word!r}: {play_label(page)!r}")
        time.sleep(0.05)


def script_errors(page) -> list[str]:
    return page.locator('[data-testid="stException"]').all_inner_texts()

"""End to end: ``equity-audit workshop`` serves the explorer and a change in the browser updates the view.

Runs headless Chromium from the system (``/usr/bin/chromium``, or ``CHROMIUM``)
through Playwright; no browser is downloaded. Skipped, with the reason, when
Playwright, Voila or a Chromium binary is missing.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import BUNDLED, cli_env

pytestmark = pytest.mark.e2e

LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]


def _chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, server: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"the workshop server exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise AssertionError(f"{url} did not answer within {timeout:.0f} s")


TOKEN = "a-workshop-token-for-tests"
CHECKOUT = Path(__file__).resolve().parents[1]


@pytest.fixture
def workshop_server(tmp_path):
    """``equity-audit workshop`` on a free port, stopped (with Voila and its kernels) afterwards."""
    if importlib.util.find_spec("voila") is None:
        pytest.skip("voila is not installed: pip install 'equity-audit[workshop]'")
    port = _free_port()
    log = (tmp_path / "workshop.log").open("w")
    script = Path(sys.executable).with_name("equity-audit")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "equity_audit.app.cli"]
    server = subprocess.Popen(
        [*command, "workshop", "--data", str(BUNDLED), "--port", str(port), "--no-browser", "--token", TOKEN],
        # the server and its kernels import the package from this checkout (a worktree too), not the install
        cwd=tmp_path, env={**cli_env(), "PYTHONPATH": str(CHECKOUT)}, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    url = f"http://127.0.0.1:{port}/?token={TOKEN}"
    try:
        _wait_for(url, server)
        yield url
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)  # the command stops Voila, which stops its kernels
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        log.close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_the_server_needs_its_token(workshop_server):
    without = workshop_server.split("?")[0]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.build_opener(_NoRedirect).open(without, timeout=10)
    assert refused.value.code == 302 and "/login" in refused.value.headers["Location"]
    with urllib.request.urlopen(workshop_server, timeout=90) as response:
        assert response.status == 200 and "/login" not in response.url


def test_changing_the_metric_updates_the_view(workshop_server, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: "
                                   "pip install 'equity-audit[test]'")
    executable = _chromium()
    if executable is None:
        pytest.skip("no Chromium binary (/usr/bin/chromium); install it with apt, or set CHROMIUM")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=LAUNCH_ARGS)
        try:
            page = browser.new_page()
            page.goto(workshop_server, timeout=90_000)
            caption = page.locator(".ea-caption")
            caption.filter(has_text="Pace").wait_for(timeout=120_000)
            assert "withheld" in caption.inner_text()
            assert page.locator(".ea-table table.ea-data").count() == 1
            assert "95% interval" in page.locator("div.ea-table").inner_text()
            assert "What do you notice? What do you wonder?" in page.locator(".ea-prompts").inner_text()
            assert "from equity_audit" not in page.content()  # Voila shows no code

            page.locator(".ea-metric select").select_option(label="Discipline: any exclusion")
            caption.filter(has_text="Discipline: any exclusion").wait_for(timeout=60_000)
            assert "Pace" not in caption.inner_text()
            page.locator("div.ea-table").filter(has_text="Students").wait_for(timeout=10_000)

            # a second group is ticked with one click, no Ctrl-click
            page.locator(".ea-by label").filter(has_text="Gender").locator("input").check()
            caption.filter(has_text="× Gender").wait_for(timeout=60_000)
            page.locator(".ea-period button").filter(has_text="Year by year").click()
            caption.filter(has_text="each school year").wait_for(timeout=60_000)
            notes = page.locator(".ea-notes-box")
            assert notes.is_visible()
            page.locator(".ea-presenter").click()
            notes.wait_for(state="hidden", timeout=10_000)
        finally:
            browser.close()
    console = (tmp_path / "workshop.log").read_text()
    # the page's kernel started, and said nothing about unencrypted TCP (it runs over IPC)
    assert "Kernel started" in console and "without encryption" not in console

"""Debian's Chromium driven by Playwright, for the console's browser tests. Never a downloaded
browser: the Makefile installs the `chromium` package when /usr/bin/chromium is missing."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.redis_server import in_ci

CHROMIUM = os.environ.get("VOUCHERS_CHROMIUM", "/usr/bin/chromium")
# No network but the service's: Chromium's own background requests would be refused here.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(
    os.environ.get("VOUCHERS_SCREENSHOTS", Path(__file__).parent.parent / "screenshots")
)
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


def launch() -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        message = f"{CHROMIUM} is missing: `make test` installs Debian's chromium package"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page: Page, name: str) -> None:
    """The page as it is now, at 1280x800 and at 390x844 (then back to the first), saved under
    screenshots/ (kept out of git) to look at."""
    SCREENSHOTS.mkdir(exist_ok=True)
    before = page.viewport_size
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=SCREENSHOTS / f"{name}-{size}.png", full_page=True)
    if before is not None:
        page.set_viewport_size(before)

"""A full stack (with the matcher) for the browser tests, and a headless Debian Chromium. Two
symbols: TULIP for test_rt_trading_page.py, WEB for test_rt_trading_views.py (their books stay
apart)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.stack import StackHandle, start_stack

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="package")
def web_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackHandle]:
    handle = start_stack(Path(tmp_path_factory.mktemp("web")), with_worker=True,
                         symbols="TULIP,WEB", extra_env={"WS_HEARTBEAT_S": "1"})
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not shutil.which(CHROMIUM):
        pytest.fail("Chromium missing: run scripts/install-browser.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()

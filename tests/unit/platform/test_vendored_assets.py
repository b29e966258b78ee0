"""The vendored chart library (tulip/static/vendor/uplot, README there): the pinned files unchanged,
its licence beside them, and the trading page and the ops console load it from the service, never
from a CDN."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
VENDOR = REPO / "tulip" / "static" / "vendor" / "uplot"
PINNED = {  # uplot 1.6.32 from the npm registry, dist/ files as published
    "uPlot.iife.min.js": "19c8d4c6ad88929a79f4ae49d6f7161566dfd0ba3d15cc495e974f787eb78f1f",
    "uPlot.min.css": "df630c6a8d6f8eeaff264b50f73ce5b114f646ffd9a0bb74f049b0a00135fa04",
}
PAGES = [REPO / "realtime" / "templates" / "realtime" / "index.html",
         *sorted((REPO / "ops" / "templates").rglob("*.html")),
         *sorted((REPO / "tulip" / "templates").rglob("*.html"))]


def test_vendored_files_are_the_pinned_release_with_their_licence() -> None:
    for name, digest in PINNED.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    licence = (VENDOR / "LICENSE").read_text()
    assert "MIT License" in licence and "Leon Sorokin" in licence
    note = (VENDOR / "README.md").read_text()
    assert "1.6.32" in note and "MIT" in note


def test_no_page_loads_anything_from_another_host() -> None:
    remote = re.compile(r"""(src|href)\s*=\s*["'](https?:)?//""", re.I)
    for page in PAGES:
        assert not remote.search(page.read_text()), page

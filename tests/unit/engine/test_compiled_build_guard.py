"""The optional mypyc build is used only when it was compiled from exactly the current sources."""

from __future__ import annotations

import shutil
from pathlib import Path

from matching.engine import build_stamp
from matching.engine.build_stamp import COMPILED_SOURCES, SOURCE_DIGEST_FILE, build_matches, source_digest

SOURCES = Path(build_stamp.__file__).parent


def _package_copy(tmp_path: Path) -> Path:
    for name in COMPILED_SOURCES:
        shutil.copy2(SOURCES / name, tmp_path / name)
    (tmp_path / "_compiled").mkdir()
    return tmp_path / "_compiled"


def test_a_build_stamped_with_the_current_sources_is_used(tmp_path: Path) -> None:
    compiled = _package_copy(tmp_path)
    (compiled / SOURCE_DIGEST_FILE).write_text(source_digest(str(tmp_path)) + "\n")
    assert build_matches(str(compiled))


def test_a_source_edited_after_the_build_disables_it(tmp_path: Path) -> None:
    compiled = _package_copy(tmp_path)
    (compiled / SOURCE_DIGEST_FILE).write_text(source_digest(str(tmp_path)) + "\n")
    with (tmp_path / "book.py").open("a") as book:
        book.write("\n# edited after the build\n")
    assert not build_matches(str(compiled))


def test_a_build_without_a_stamp_is_not_used(tmp_path: Path) -> None:
    assert not build_matches(str(_package_copy(tmp_path)))

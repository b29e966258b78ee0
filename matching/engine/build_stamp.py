"""Which sources the optional mypyc build compiles, and the stamp that ties a build to them.

``bench/engine/build_mypyc.py`` writes ``_compiled/SOURCE_DIGEST`` after a build; the package
``__init__`` uses the build only when that stamp equals the digest of the sources beside it, so an
edit made after a build is never shadowed by stale machine code. Never compiled itself.
"""

from __future__ import annotations

import hashlib
import os

COMPILED_SOURCES = ("messages.py", "units.py", "simfill.py", "book.py")
SOURCE_DIGEST_FILE = "SOURCE_DIGEST"


def source_digest(folder: str) -> str:
    """sha256 over the compiled sources in ``folder``."""
    digest = hashlib.sha256()
    for name in COMPILED_SOURCES:
        with open(os.path.join(folder, name), "rb") as source:
            digest.update(name.encode() + b"\0" + source.read() + b"\0")
    return digest.hexdigest()


def build_matches(compiled_folder: str) -> bool:
    """True when ``compiled_folder`` holds a build stamped with its parent folder's sources."""
    try:
        with open(os.path.join(compiled_folder, SOURCE_DIGEST_FILE), encoding="ascii") as stamp:
            return stamp.read().strip() == source_digest(os.path.dirname(compiled_folder))
    except OSError:
        return False  # no build (or an unreadable one): the interpreted engine

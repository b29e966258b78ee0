"""`make engine-compiled`: optional mypyc build of the engine's hot module.

    .venv/bin/python -m bench.engine.build_mypyc [--clean]

Compiles ``matching/engine/book.py`` (BookEngine + SimFillEngine) with mypyc (shipped with mypy)
into ``matching/engine/_compiled/``.  ``matching.engine`` puts that folder first on its package path,
so the compiled module is used when present; the interpreted source stays the fallback (no compiler,
no build, or ``TULIP_ENGINE_PURE=1``).  ``messages.py``/``_fast.py`` stay interpreted on purpose (see
_fast.py).  Build artefacts are not committed.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGET = os.path.join(ROOT, "matching", "engine", "_compiled")
MODULES = ["matching/engine/book.py"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clean", action="store_true", help="remove the compiled build and exit")
    args = ap.parse_args()
    shutil.rmtree(TARGET, ignore_errors=True)
    if args.clean:
        print("removed", TARGET)
        return 0
    mypyc = shutil.which("mypyc", path=os.path.dirname(sys.executable)) or shutil.which("mypyc")
    if mypyc is None:
        print("mypyc not found; the interpreted engine stays in use", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        # Build in a scratch copy so no .so lands beside the sources (it would shadow them always).
        for rel in ["matching/__init__.py", *glob.glob("matching/engine/*.py", root_dir=ROOT)]:
            os.makedirs(os.path.join(tmp, os.path.dirname(rel)), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, rel), os.path.join(tmp, rel))
        env = dict(os.environ, MYPYC_OPT_LEVEL=os.environ.get("MYPYC_OPT_LEVEL", "3"))
        proc = subprocess.run([mypyc, "--strict", *MODULES], cwd=tmp, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stdout[-4000:], proc.stderr[-4000:], file=sys.stderr)
            return proc.returncode
        built = glob.glob(os.path.join(tmp, "matching", "engine", "*.so")) + glob.glob(
            os.path.join(tmp, "*.so")
        )
        assert built, "mypyc produced no extension module"
        os.makedirs(TARGET)
        for path in built:
            shutil.copy2(path, TARGET)
    print("compiled:", ", ".join(sorted(os.listdir(TARGET))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

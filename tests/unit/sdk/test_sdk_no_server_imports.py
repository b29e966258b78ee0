"""The client SDK stands alone: importing it loads nothing of the server or its frameworks
(it is installable without them; sdk/pyproject.toml depends on httpx and websockets only)."""

from __future__ import annotations

import json
import subprocess
import sys

SERVER_PACKAGES = frozenset({"django", "rest_framework", "channels", "realtime", "orders",
                             "matching", "ops", "tulip"})
PROBE = ("import json, sys\n"
         "import tulip_client, tulip_client.backoff, tulip_client.errors, tulip_client.regions, "
         "tulip_client.rest, tulip_client.stream\n"
         "print(json.dumps(sorted(sys.modules)))")


def test_importing_the_sdk_imports_no_server_module() -> None:
    # -I: isolated mode — no PYTHON* variables, no current directory on sys.path, so the SDK is
    # found the way a user finds it (the installed distribution) and nothing of the repository
    # can sneak in through the path.
    result = subprocess.run([sys.executable, "-I", "-c", PROBE], capture_output=True, text=True,
                            timeout=60, check=True)
    modules = json.loads(result.stdout)
    assert "tulip_client.stream" in modules
    leaked = sorted(m for m in modules if m.partition(".")[0] in SERVER_PACKAGES)
    assert leaked == []

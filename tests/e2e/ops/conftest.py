from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devstack.provision import DEMO_PASSWORD
from tests.support.stack import StackHandle, start_stack

REPO = Path(__file__).resolve().parents[3]


def manage(stack: StackHandle, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=stack.env,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="package")
def console_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackHandle]:
    """HTTP server + moto, no worker; PROMETHEUS_MULTIPROC_DIR set as the launcher will set it."""
    state: Path = tmp_path_factory.mktemp("console-stack")
    (state / "prometheus").mkdir()
    handle = start_stack(state, with_worker=False,
                         extra_env={"PROMETHEUS_MULTIPROC_DIR": str(state / "prometheus")})
    try:
        result = manage(handle, "ensure_ops_admin")
        assert result.returncode == 0, result.stderr
        yield handle
    finally:
        handle.stop()


def admin_login(stack: StackHandle, username: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=stack.url, timeout=30, follow_redirects=False)
    page = client.get("/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, page.text[:500]
    client.post("/admin/login/?next=/admin/", data={
        "csrfmiddlewaretoken": token.group(1), "username": username, "password": password,
        "next": "/admin/"}, headers={"Referer": f"{stack.url}/admin/login/"})
    return client


@pytest.fixture
def ops_client(console_stack: StackHandle) -> Iterator[httpx.Client]:
    client = admin_login(console_stack, "ops", DEMO_PASSWORD)
    yield client
    client.close()

"""What a region monitor's probe of another region counts as seen (ops/regions.py `probe`).

A refused connection is a region whose network answered with no server behind it (locally: its
one API server restarting after a kill), as an AWS load balancer with no healthy target answers
503: reached, not healthy. It used to count as unseen, and a follower's API restart made the
leader think itself isolated and step down; the follower then failed over (the region chaos run
at size). A partition drill's cut is unseen; an answer is seen, healthy when 200.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from ops import regions as monitor
from tulip import drills
from tulip.config import Config, load_config

EAST, WEST = "us-east-1", "us-west-2"


def _cfg(west_url: str, state_dir: Path) -> Config:
    return load_config({"TULIP_ENV": "test", "AWS_REGION": EAST, "TULIP_REGIONS": f"{EAST},{WEST}",
                        "TULIP_URL_US_WEST_2": west_url, "TULIP_STATE_DIR": str(state_dir),
                        "AWS_ENDPOINT_URL": "http://127.0.0.1:9"})  # local: drills allowed


def _free_port() -> int:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port: int = probe_socket.getsockname()[1]
        return port


class _Region(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        body = json.dumps({"region": WEST, "role": "leader", "epoch": 4}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        """Quiet: http.server writes every request to stderr otherwise."""


@pytest.fixture
def west() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Region)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_refused_connection_is_reached_but_not_healthy(tmp_path: Path) -> None:
    cfg = _cfg(f"http://127.0.0.1:{_free_port()}", tmp_path)
    assert monitor.probe(cfg, WEST) == (True, False, None)


def test_an_answer_is_seen_with_its_term(west: str, tmp_path: Path) -> None:
    cfg = _cfg(west, tmp_path)
    assert monitor.probe(cfg, WEST) == (True, True, 4)


def test_a_partition_drill_cuts_the_probe(west: str, tmp_path: Path) -> None:
    cfg = _cfg(west, tmp_path)
    drills.partition(cfg, EAST, WEST)
    assert monitor.probe(cfg, WEST) == (False, False, None)

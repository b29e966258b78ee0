"""The patched server keeps HTTP/1.1 connections alive; stock werkzeug closes every one.

werkzeug's development server answers every request with ``Connection: close``, so each AWS call
paid a TCP connection and a server thread. Kept connections must still frame every request
exactly: back-to-back requests on one socket, a body the client sends in pieces, a client's own
``Connection: close`` and a chunked body (which keeps werkzeug's closing behaviour) all answer
correctly.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from typing import Any
from urllib.parse import urlparse

from .support import MotoServer

HEADERS = {
    "Content-Type": "application/x-amz-json-1.0",
    "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request,"
                     " SignedHeaders=host, Signature=0",
}


def _call(conn: http.client.HTTPConnection, target: str, body: dict[str, Any],
          **headers: str) -> tuple[http.client.HTTPResponse, dict[str, Any]]:
    conn.request("POST", "/", body=json.dumps(body).encode(),
                 headers={**HEADERS, "X-Amz-Target": f"DynamoDB_20120810.{target}", **headers})
    response = conn.getresponse()
    return response, json.loads(response.read())


def _connection(server: MotoServer) -> http.client.HTTPConnection:
    url = urlparse(server.url)
    return http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)


def _read_response(reader: Any) -> tuple[int, dict[str, str], dict[str, Any]]:
    """One HTTP/1.1 response with a Content-Length, read off a raw socket stream."""
    status = int(reader.readline().split()[1])
    headers: dict[str, str] = {}
    while (line := reader.readline().decode().strip()):
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, json.loads(reader.read(int(headers["content-length"])))


def test_back_to_back_requests_share_one_connection(server: MotoServer) -> None:
    conn = _connection(server)
    sockets, closing = set(), 0
    for limit in range(1, 6):
        response, answer = _call(conn, "ListTables", {"Limit": limit})
        assert response.status == 200 and "TableNames" in answer  # every request framed right
        closing += (response.getheader("Connection") or "").lower() == "close"
        if conn.sock is not None:
            sockets.add(id(conn.sock))
        else:
            sockets.add(f"closed-{limit}")
    conn.close()
    server.expect(closing == 0 and len(sockets) == 1,
                  f"{closing} of 5 answers said Connection: close; {len(sockets)} connections")


def test_body_sent_in_pieces_then_next_request(server: MotoServer) -> None:
    """The server reads the declared length however the bytes arrive, and the request after it on
    the same socket is answered (not swallowed by werkzeug's post-response discard)."""
    url = urlparse(server.url)
    body = json.dumps({"Limit": 3}).encode()
    head = (f"POST / HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Length: {len(body)}\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in HEADERS.items())
            + "X-Amz-Target: DynamoDB_20120810.ListTables\r\n\r\n").encode()
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        reader = sock.makefile("rb")
        sock.sendall(head + body[:4])
        time.sleep(0.05)
        sock.sendall(body[4:])
        status, headers, answer = _read_response(reader)
        assert status == 200 and "TableNames" in answer
        kept = headers.get("connection", "").lower() != "close"
        if kept:
            sock.sendall(head + body)  # at once: inside werkzeug's 10 ms post-response discard
            status, _, answer = _read_response(reader)
            assert status == 200 and "TableNames" in answer
    server.expect(kept, "the server closed the connection after the first request")


def test_client_connection_close_is_honoured(server: MotoServer) -> None:
    conn = _connection(server)
    response, answer = _call(conn, "ListTables", {}, Connection="close")
    assert response.status == 200 and "TableNames" in answer
    assert (response.getheader("Connection") or "").lower() == "close"


def test_chunked_body_is_answered_and_closes(server: MotoServer) -> None:
    conn = _connection(server)
    body = json.dumps({"Limit": 2}).encode()
    conn.request("POST", "/", body=iter([body[:5], body[5:]]), encode_chunked=True,
                 headers={**HEADERS, "X-Amz-Target": "DynamoDB_20120810.ListTables",
                          "Transfer-Encoding": "chunked"})
    response = conn.getresponse()
    assert response.status == 200 and "TableNames" in json.loads(response.read())
    assert (response.getheader("Connection") or "").lower() == "close"
    conn.close()

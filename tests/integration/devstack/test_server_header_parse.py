"""The server reads plain request headers without the email parser (``server_header_parse``), into
the same message the email parser builds, and leaves anything else to it.

In process (the fix replaces a standard-library function the server calls before moto's code, so
``work_meter``, which counts inside the WSGI application, does not see it): the fixed function's
answers against the standard library's on header blocks of every kind, and the Python calls each
makes for a botocore request's headers.
"""

from __future__ import annotations

import http.client
import io
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import pytest

from devstack.moto_patches.server_header_parse import _parse_headers

STOCK = http.client.parse_headers
FIXED = _parse_headers(http.client._read_headers, http.client.HTTPMessage)  # type: ignore[attr-defined]

BOTOCORE = (
    b"Host: 127.0.0.1:5000\r\nAccept-Encoding: identity\r\n"
    b"X-Amz-Target: DynamoDB_20120810.GetItem\r\nContent-Type: application/x-amz-json-1.0\r\n"
    b"User-Agent: Boto3/1.40.0 md/Botocore#1.40.0 ua/2.1 os/linux#6 lang/python#3.11.7\r\n"
    b"X-Amz-Date: 20261207T210000Z\r\n"
    b"X-Amzn-Trace-Id: Root=1-6b1705b7-d23527392c815f655a43b3d1;Parent=ceb699153b14a4b7;Sampled=0\r\n"
    b"Authorization: AWS4-HMAC-SHA256 Credential=testing/20261207/us-east-1/dynamodb/aws4_request, "
    b"SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=abc\r\n"
    b"amz-sdk-invocation-id: 1234\r\namz-sdk-request: attempt=1\r\nContent-Length: 60\r\n\r\n"
    b'{"TableName": "t"}'
)
BLOCKS = {
    "botocore": BOTOCORE,
    "no space, trailing blanks, empty value": b"A:x\r\nB: y  \r\nC:\r\nD: \t z\r\n\r\n",
    "repeated names, bare LF endings": b"X-A: 1\nX-A: 2\nx-a: 3\n\n",
    "latin-1 value": "X-Name: caf\u00e9\r\n\r\n".encode("iso-8859-1"),
    "folded continuation": b"X-Long: one\r\n two\r\n\tthree\r\nX-B: 2\r\n\r\n",
    "a line without a colon": b"X-A: 1\r\nnot a header\r\nX-B: 2\r\n\r\n",
    "a space in the name": b"X A: 1\r\nX-B: 2\r\n\r\n",
    "a From line": b"From someone: x\r\nX-B: 2\r\n\r\n",
    "no headers": b"\r\n",
    "end of stream": b"X-A: 1\r\n",
}


def _seen(parse: Callable[..., Any], block: bytes) -> tuple[list[tuple[str, str]], list[Any], bytes]:
    stream = io.BytesIO(block)
    message = parse(stream)
    return (list(message.items()), [type(d).__name__ for d in message.defects], stream.read())


@pytest.mark.parametrize("name", list(BLOCKS))
def test_the_same_message_as_the_email_parser(name: str) -> None:
    # Headers (names, values, order), defects, and what is left on the stream for the body.
    assert _seen(FIXED, BLOCKS[name]) == _seen(STOCK, BLOCKS[name])


def test_the_same_limits_and_errors() -> None:
    too_long = b"X-A: " + b"x" * 70_000 + b"\r\n\r\n"
    too_many = b"".join(b"X-%d: 1\r\n" % i for i in range(150)) + b"\r\n"
    for block, error in ((too_long, http.client.LineTooLong), (too_many, http.client.HTTPException)):
        for parse in (STOCK, FIXED):
            with pytest.raises(error):
                parse(io.BytesIO(block))


def _calls(parse: Callable[..., Any]) -> int:
    count = 0

    def profile(frame: FrameType, event: str, arg: object) -> None:
        nonlocal count
        if event == "call":
            count += 1

    sys.setprofile(profile)
    try:
        parse(io.BytesIO(BOTOCORE))
    finally:
        sys.setprofile(None)
    return count


def test_a_botocore_request_s_headers_cost_a_fraction_of_the_calls() -> None:
    stock, fixed = _calls(STOCK), _calls(FIXED)
    # Stock: ~100 Python calls (the feed parser, its line splitting, policy objects); fixed: ~15.
    assert fixed * 5 < stock, (fixed, stock)

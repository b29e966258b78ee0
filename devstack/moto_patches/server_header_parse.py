"""Fix ``server_header_parse``: the server reads plain request headers without the email parser.

Why: moto's server is werkzeug's, on the standard library's ``http.server``, which reads each
request's headers with ``http.client.parse_headers``: the header lines are joined into one string
and handed to ``email.parser``, a general MIME parser (a feed parser, a regular expression per
line, policy objects). For the ~10 headers a botocore request carries that is ~300 us per request
here against ~27 us for a plain split (same machine, same header block, ``timeit``); in a py-spy
profile of moto under the stress load profile, ``parse_headers`` was 6 % of moto's CPU
(docs/benchmarks.md, "Four cuts, and what the rest of the CPU is").

Fix: the lines are read exactly as before (``http.client._read_headers``: the same line-length and
header-count limits, the same errors), and a block of plain ``Name: value`` lines becomes the same
``HTTPMessage`` the email parser would have built: for each line, the name as written and the value
with leading blanks and the line ending removed (the email parser's compat32 policy), in order.
Anything else (a folded continuation line, a line without a name, a ``From `` line, a name with a
character the email parser does not take as a header name) goes to the email parser as before.
"""

from __future__ import annotations

import email.parser
import re
from collections.abc import Callable
from typing import Any

from ._util import replace

NAME = "server_header_parse"

# What the email parser takes as "a header name followed by a colon" (email.feedparser.headerRE).
_PLAIN_NAME = re.compile(r"[\041-\071\073-\176]+")
_ENDINGS = (b"\r\n", b"\n", b"")


def _plain_headers(lines: list[bytes]) -> list[tuple[str, str]] | None:
    """(name, value) per line when every line is a plain header line, else None."""
    headers = []
    for raw in lines:
        if raw in _ENDINGS:
            break
        line = raw.decode("iso-8859-1")
        name, colon, value = line.partition(":")
        if not colon or not _PLAIN_NAME.fullmatch(name) or line.startswith("From "):
            return None
        headers.append((name, value.lstrip(" \t").rstrip("\r\n")))
    return headers


def _parse_headers(read_headers: Callable[[Any], list[bytes]], message_class: type) -> Callable[..., Any]:
    def parse_headers(fp: Any, _class: type = message_class) -> Any:
        lines = read_headers(fp)
        headers = _plain_headers(lines)
        if headers is None:
            return email.parser.Parser(_class=_class).parsestr(b"".join(lines).decode("iso-8859-1"))
        message = _class()
        for name, value in headers:
            message.set_raw(name, value)
        return message

    parse_headers.__tulip_header_parse__ = True  # type: ignore[attr-defined]
    return parse_headers


def apply() -> None:
    import http.client

    if getattr(http.client.parse_headers, "__tulip_header_parse__", False):
        return
    replace(http.client, "parse_headers", _parse_headers(
        http.client._read_headers,  # type: ignore[attr-defined]
        http.client.HTTPMessage))

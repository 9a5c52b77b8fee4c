"""What a workflow may put in a reply's status line, header names and values, and cookie names.

A workflow's reply is checked before it is sent: a name or status holding CR, LF or another
character HTTP does not allow would split the response (the development server writes it as it is)
or make gunicorn answer its own 500 without the version's headers. An invalid one raises
ValueError, which the app logs and answers with its JSON 500.
"""

from __future__ import annotations

import re

# RFC 9110 section 5.6.2: a field name (and a cookie name, RFC 6265 section 4.1.1) is a token.
_TOKEN_CHARS = "letters, digits and !#$%&'*+-.^_`|~"
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# A field value: visible latin-1 characters, space and tab (RFC 9110 section 5.5); no CR, LF or NUL.
# Latin-1 because WSGI servers encode header strings as latin-1: anything beyond cannot be sent.
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
# A status line after the code: the reason phrase, same characters as a field value.
_STATUS = re.compile(r"[0-9]{3}(?: [\t\x20-\x7e\x80-\xff]*)?")


def check_header(name: str, value: str) -> None:
    """Raise ValueError when `name` is not a token or `value` holds a character a header cannot."""
    if not isinstance(name, str) or _TOKEN.fullmatch(name) is None:
        raise ValueError(f"invalid header name {name!r}: a header name is {_TOKEN_CHARS}")
    if _FIELD_VALUE.fullmatch(value) is None:
        raise ValueError(
            f"invalid value for header {name!r}: no CR, LF or control characters, and latin-1 text only"
        )


def check_headers(headers: list[tuple[str, str]]) -> None:
    """Raise ValueError for the first header of `headers` that `check_header` refuses."""
    for name, value in headers:
        check_header(name, value)


def check_cookie_name(name: object) -> None:
    """Raise ValueError when a cookie name is not a token (`;`, `=`, spaces would inject attributes)."""
    if not isinstance(name, str) or _TOKEN.fullmatch(name) is None:
        raise ValueError(f"invalid cookie name {name!r}: a cookie name is {_TOKEN_CHARS}")


def check_status(status: str) -> None:
    """Raise ValueError for a status line that is not a 3-digit code and a one-line reason."""
    if _STATUS.fullmatch(status) is None:
        raise ValueError(f"invalid status {status!r}: a status is a 3-digit code and a one-line reason")

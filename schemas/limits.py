"""The request limits `[settings]` sets: `request_timeout` (a duration) and `max_body_size` (a size).

Both are written as text (`"30s"`, `"1MB"`) and kept as text in the project, so a version file holds
them as written; the runtime reads their values with `parse_duration` and `parse_size`.
"""

from __future__ import annotations

import re

DEFAULT_REQUEST_TIMEOUT = "30s"
DEFAULT_MAX_BODY_SIZE = "1MB"

_DURATION = re.compile(r"([0-9]{1,9})(ms|s|m)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0}
_SIZE = re.compile(r"([0-9]{1,12})(B|KB|MB|GB)")
# Binary units: hapi's `payload.maxBytes` default "1 MB" is 1,048,576 bytes, and so is "1MB" here.
_SIZE_UNITS = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}


def parse_duration(text: str) -> float:
    """Return the seconds of a duration such as "500ms", "30s" or "2m".

    Raises ValueError (with a message saying what to write) for anything else, or zero.
    """
    found = _DURATION.fullmatch(text.strip())
    if found is None or int(found.group(1)) == 0:
        raise ValueError(f'"{text}" is not a duration: write a positive number and ms, s or m ("30s", "2m")')
    return int(found.group(1)) * _DURATION_UNITS[found.group(2)]


def parse_size(text: str) -> int:
    """Return the bytes of a size such as "512KB", "1MB" or "100B" (KB = 1024 bytes).

    Raises ValueError (with a message saying what to write) for anything else, or zero.
    """
    found = _SIZE.fullmatch(text.strip())
    if found is None or int(found.group(1)) == 0:
        raise ValueError(f'"{text}" is not a size: write a positive number and B, KB, MB or GB ("1MB")')
    return int(found.group(1)) * _SIZE_UNITS[found.group(2)]

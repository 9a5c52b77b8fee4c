"""epctl.toml as text: what a version freezes of it, and what `restore` writes back.

A version holds epctl.toml as written (comments, inline tables and all) but without its local sections:
`[environments]` (pointers at versions) and `[[trusted_key]]` (which signers this checkout trusts) say
where and whether versions are served, so they are never part of one, and a restore keeps develop's.
"""

from __future__ import annotations

from typing import Any

import tomlkit
from tomlkit.exceptions import ParseError

from epctl.schemas.loader import CONFIG_FILE, LOCAL_SECTIONS
from epctl.schemas.models import ApiKey, Auth, Settings
from epctl.schemas.problems import EpctlError


class ConfigTextError(EpctlError):
    """develop's epctl.toml cannot be read as TOML, so its local sections cannot be kept."""


def strip_local_sections(text: str) -> str:
    """Return epctl.toml's `text` without its local sections, the rest as written.

    Raises ConfigTextError when the text is not TOML.
    """
    document = parse_config(text)
    if not any(key in document for key in LOCAL_SECTIONS):
        return text
    for key in LOCAL_SECTIONS:
        if key in document:
            del document[key]
    return tomlkit.dumps(document)


def compose_config(frozen: str, develop: str) -> str:
    """Return the epctl.toml that restoring a version writes: the version's text `frozen` as written,
    with develop's local sections taken over from `develop`. When develop already says what the
    version says, `develop` itself is returned, byte for byte.

    Raises ConfigTextError when either text is not TOML.
    """
    if strip_local_sections(develop) == frozen:
        return develop
    document = parse_config(frozen)
    local = parse_config(develop)
    for key in LOCAL_SECTIONS:
        if key in document:  # a version made by hand: its own pointers and keys never count
            del document[key]
    for key in list(local):  # in develop's order
        if key in LOCAL_SECTIONS:
            document[key] = local[key]
    return tomlkit.dumps(document)


def merge_config(content: dict[str, Any], develop: str) -> str:
    """Return develop's epctl.toml with a version's settings, auth and API keys, for versions that do
    not hold epctl.toml's text. Sections that already mean the same are left exactly as written."""
    document = parse_config(develop)
    current = document.unwrap()
    for key, model in (("settings", Settings), ("auth", Auth)):
        if model.model_validate(current.get(key, {})) != model.model_validate(content.get(key, {})):
            document[key] = content.get(key, {})
    frozen_keys = content.get("api_key", [])
    keys_now = [ApiKey.model_validate(k) for k in current.get("api_key", [])]
    if keys_now != [ApiKey.model_validate(k) for k in frozen_keys]:
        if frozen_keys:
            array = tomlkit.aot()
            for api_key in frozen_keys:
                array.append(tomlkit.item(api_key))
            document["api_key"] = array
        elif "api_key" in document:
            del document["api_key"]
    return tomlkit.dumps(document)


def parse_config(text: str) -> tomlkit.TOMLDocument:
    """Return epctl.toml's text as a tomlkit document; raise ConfigTextError when it is not TOML."""
    try:
        return tomlkit.parse(text)
    except ParseError as err:
        raise ConfigTextError(
            f"{CONFIG_FILE} is not valid TOML ({err}); fix it first (`epctl validate` shows where)"
        ) from None

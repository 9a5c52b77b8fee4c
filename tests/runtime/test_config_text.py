"""epctl.toml's text in versions: frozen without its local sections, restored as written with develop's."""

from __future__ import annotations

from epctl.runtime.config_text import compose_config, strip_local_sections

FROZEN = """# the farm
[project]
name = "farm"

[settings]
globals = { greeting = "Hello" }   # inline, as written
"""
LOCAL = """
[[trusted_key]]
name = "release"
public_key = "key"

[environments.production]
version = "v1"
"""


def test_a_version_holds_epctl_toml_without_its_local_sections() -> None:
    assert strip_local_sections(FROZEN + LOCAL) == FROZEN + "\n"
    assert strip_local_sections(FROZEN) == FROZEN


def test_restore_writes_the_frozen_text_with_develops_local_sections_in_their_order() -> None:
    develop = FROZEN.replace("Hello", "Howdy") + LOCAL
    assert compose_config(FROZEN + "\n", develop) == FROZEN + LOCAL


def test_a_develop_that_already_says_what_the_version_says_is_left_byte_for_byte() -> None:
    develop = FROZEN + "\n\n" + LOCAL
    assert compose_config(strip_local_sections(develop), develop) == develop


def test_local_sections_a_hand_made_version_holds_never_count() -> None:
    forged = FROZEN + '\n[environments.production]\nversion = "evil"\n'
    develop = FROZEN.replace("Hello", "Howdy") + '\n[environments.production]\nversion = "v1"\n'
    restored = compose_config(forged, develop)
    assert 'version = "v1"' in restored and "evil" not in restored

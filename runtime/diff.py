"""What changed between two versions, and which changes let more callers in.

Both sides are frozen content (`versions.read_content`), so develop and any version compare the same
way: tables matched by id or name and compared field by field, sources (templates, handlers and the
files of static/) compared by path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from epctl.schemas.models import (
    ApiKey,
    Auth,
    Case,
    Component,
    Endpoint,
    Layout,
    Page,
    Settings,
    Table,
    Workflow,
)
from epctl.schemas.static_files import STATIC_BINARY_KEY, STATIC_TEXT_KEY

ChangeKind = Literal["added", "removed", "changed"]
# Tables a version holds, with the key that identifies one of them.
KEYED_TABLES: tuple[tuple[str, str, type[Table]], ...] = (
    ("endpoint", "id", Endpoint),
    ("page", "name", Page),
    ("layout", "name", Layout),
    ("component", "name", Component),
    ("workflow", "name", Workflow),
    ("api_key", "name", ApiKey),
    ("case", "name", Case),
)
ACCESS_RANK = {"groups": 0, "authenticated": 1, "public": 2}


@dataclass(frozen=True, slots=True)
class Change:
    section: str  # endpoint, page, layout, component, workflow, case, api_key, settings, auth, file
    name: str
    kind: ChangeKind
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # key -> (before, after)

    def to_dict(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "name": self.name,
            "change": self.kind,
            "fields": {k: {"before": a, "after": b} for k, (a, b) in self.fields.items()},
        }


@dataclass(frozen=True, slots=True)
class VersionDiff:
    changes: list[Change]
    access_widened: list[str]

    @property
    def equal(self) -> bool:
        return not self.changes


def diff_contents(before: dict[str, Any], after: dict[str, Any]) -> VersionDiff:
    """Return every change from `before` to `after` and the subset that widens access."""
    changes: list[Change] = []
    for section, key, model in KEYED_TABLES:
        # Versions leave defaults out; fill them in so a change to or from a default shows both values.
        old = {t[key]: with_defaults(model, t) for t in before.get(section, [])}
        new = {t[key]: with_defaults(model, t) for t in after.get(section, [])}
        changes += [Change(section, name, "removed") for name in old if name not in new]
        changes += [Change(section, name, "added") for name in new if name not in old]
        for name in old.keys() & new.keys():
            fields = diff_fields(old[name], new[name])
            if fields:
                changes.append(Change(section, name, "changed", fields))
    for section, settings_model in (("settings", Settings), ("auth", Auth)):
        # With defaults filled in, a key added to the settings later is no change to older versions.
        fields = diff_fields(
            with_defaults(settings_model, before.get(section, {})),
            with_defaults(settings_model, after.get(section, {})),
        )
        if fields:
            changes.append(Change(section, section, "changed", fields))
    old_files = frozen_files(before)
    new_files = frozen_files(after)
    for path in sorted(old_files.keys() | new_files.keys()):
        if path not in new_files:
            changes.append(Change("file", path, "removed"))
        elif path not in old_files:
            changes.append(Change("file", path, "added"))
        elif old_files[path] != new_files[path]:
            changes.append(Change("file", path, "changed"))
    order = {
        section: index
        for index, section in enumerate(
            [
                "endpoint",
                "page",
                "layout",
                "component",
                "workflow",
                "case",
                "file",
                "api_key",
                "auth",
                "settings",
            ]
        )
    }
    changes.sort(key=lambda c: (order[c.section], c.name))
    return VersionDiff(changes, find_widened_access(before, after))


def frozen_files(content: dict[str, Any]) -> dict[str, str]:
    """Return every source file a version holds by project path: templates and handlers, and the files
    of static/ (text as text, other files as their base64 text: equal exactly when the bytes are)."""
    return {
        **content.get("files", {}),
        **content.get(STATIC_TEXT_KEY, {}),
        **content.get(STATIC_BINARY_KEY, {}),
    }


def with_defaults(model: type[Table], table: dict[str, Any]) -> dict[str, Any]:
    return model.model_validate(table).model_dump(mode="python", exclude_none=True)


def diff_fields(before: dict[str, Any], after: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {
        key: (before.get(key), after.get(key))
        for key in sorted(before.keys() | after.keys())
        if before.get(key) != after.get(key)
    }


def find_widened_access(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Return one sentence for each change that lets more callers reach something."""
    widened: list[str] = []
    old = {e["id"]: e for e in before.get("endpoint", [])}
    for endpoint in after.get("endpoint", []):
        eid = endpoint["id"]
        previous = old.get(eid)
        wildcard = "*}" in endpoint["route"]
        if previous is None:
            if wildcard:
                widened.append(f"endpoint {eid}: new wildcard route {endpoint['method']} {endpoint['route']}")
            continue
        was, now = previous.get("access", "public"), endpoint.get("access", "public")
        if ACCESS_RANK[now] > ACCESS_RANK[was]:
            widened.append(f"endpoint {eid}: access {was} → {now}")
        elif now == was == "groups" and set(endpoint.get("groups", [])) - set(previous.get("groups", [])):
            added = sorted(set(endpoint.get("groups", [])) - set(previous.get("groups", [])))
            widened.append(f"endpoint {eid}: groups gained {', '.join(added)}")
        if previous.get("api_key") and not endpoint.get("api_key"):
            widened.append(f"endpoint {eid}: API key no longer required")
        if wildcard and "*}" not in previous["route"]:
            widened.append(f"endpoint {eid}: route became a wildcard {endpoint['route']}")
        if endpoint.get("enabled", True) and not previous.get("enabled", True):
            widened.append(f"endpoint {eid}: enabled")
    old_settings, new_settings = before.get("settings", {}), after.get("settings", {})
    if new_settings.get("cors", True) and not old_settings.get("cors", True):
        widened.append("settings: CORS turned on")
    old_origins = set(old_settings.get("allowed_origins", ["*"]))
    new_origins = set(new_settings.get("allowed_origins", ["*"]))
    if "*" not in old_origins and new_origins - old_origins:
        widened.append(f"settings: CORS origins widened: {', '.join(sorted(new_origins - old_origins))}")
    widened += find_widened_auth(before.get("auth", {}), after.get("auth", {}))
    old_keys = {k["name"]: k for k in before.get("api_key", [])}
    old_hashes = {k["sha256"] for k in before.get("api_key", [])}
    for api_key in after.get("api_key", []):
        previous = old_keys.get(api_key["name"])
        scope = set(api_key.get("endpoints", ["*"]))
        if previous is None:
            widened.append(f"API key {api_key['name']}: new key")
            continue
        if api_key["sha256"] != previous["sha256"] and api_key["sha256"] not in old_hashes:
            widened.append(f"API key {api_key['name']}: hash replaced (another key is accepted)")
        if "*" not in set(previous.get("endpoints", ["*"])) and scope - set(previous.get("endpoints", [])):
            gained = ", ".join(sorted(scope - set(previous["endpoints"])))
            widened.append(f"API key {api_key['name']}: may now call {gained}")
    return widened


def find_widened_auth(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Return a sentence for each change to [auth] that lets other tokens in: another secret
    variable signs them, or the issuer check was dropped or changed."""
    widened = []
    old_env, new_env = before.get("secret_env", "EPCTL_SECRET"), after.get("secret_env", "EPCTL_SECRET")
    if old_env != new_env:
        widened.append(
            f"auth: secret_env {old_env} → {new_env} (tokens signed with another secret are accepted)"
        )
    old_issuer, new_issuer = before.get("issuer"), after.get("issuer")
    if old_issuer is not None and new_issuer is None:
        widened.append(f"auth: issuer {old_issuer} removed (tokens of any issuer are accepted)")
    elif old_issuer is not None and new_issuer != old_issuer:
        widened.append(f"auth: issuer {old_issuer} → {new_issuer} (tokens of another issuer are accepted)")
    return widened

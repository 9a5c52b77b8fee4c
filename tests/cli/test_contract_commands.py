"""`epctl openapi` and `epctl audit` end to end through the CLI, on the sample and planted projects."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import yaml
from openapi_spec_validator import validate
from typer.testing import CliRunner, Result

from epctl.cli.main import app
from tests.conftest import SAMPLE, WriteProject
from tests.planted import AUDIT_PLANTED as PLANTED
from tests.planted import plant_signed_versions


def epctl(runner: CliRunner, root: Path, *args: str, input: str | None = None) -> Result:
    return runner.invoke(app, ["--project", str(root), *args], input=input)


# -- openapi ----------------------------------------------------------------------------------------


def test_openapi_of_the_sample_is_a_valid_document(runner: CliRunner) -> None:
    result = epctl(runner, SAMPLE, "openapi")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    validate(document)
    assert document["info"] == {"title": "smart-farm", "version": "develop"}
    assert document["servers"] == [{"url": "/"}]
    assert list(document["paths"]) == [
        "/",
        "/admin",
        "/api/devices",
        "/api/devices/{deviceId}/readings",
        "/api/exports/{name}.{ext}",
        "/api/me",
        "/api/{rest}",
        "/dashboard",
        "/devices",
        "/devices/{deviceId}",
        "/devices/{deviceId}/{attribute}",
        "/login",
        "/logout",
        "/welcome",
    ]
    assert "/maintenance" not in document["paths"]  # disabled
    assert result.stderr == ""


def test_openapi_of_an_environment_is_its_version_under_its_root(runner: CliRunner) -> None:
    result = epctl(runner, SAMPLE, "openapi", "--env", "production")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    validate(document)
    assert document["info"]["version"] == "v1.0.0"
    assert document["servers"] == [{"url": "/farm"}]


def test_openapi_yaml_is_the_same_document(runner: CliRunner) -> None:
    as_json = epctl(runner, SAMPLE, "openapi", "--version", "v1.0.0")
    as_yaml = epctl(runner, SAMPLE, "openapi", "--version", "v1.0.0", "--format", "yaml")
    assert as_yaml.exit_code == 0, as_yaml.output
    document = yaml.safe_load(as_yaml.stdout)
    validate(document)
    assert document == json.loads(as_json.stdout)
    assert as_yaml.stdout.startswith("openapi: 3.1.0\n")


def test_openapi_yaml_without_pyyaml_says_how_to_get_it(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)  # what `import yaml` sees when PyYAML is not installed
    result = epctl(runner, SAMPLE, "openapi", "--format", "yaml")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert (
        "Error: --format yaml needs PyYAML: pip install 'epctl[yaml]' (or use the default JSON)"
        in result.stderr
    )


def test_openapi_out_writes_the_file_and_says_so(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "openapi.json"
    result = epctl(runner, SAMPLE, "openapi", "--out", str(out), "--internal")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert f"Wrote {out}: OpenAPI json of smart-farm develop, 16 operations" in result.stderr.replace(
        "\n", ""
    )
    document = json.loads(out.read_text(encoding="utf-8"))
    validate(document)
    assert document["paths"]["/"]["get"]["description"] == "Landing page"


def test_openapi_leaves_descriptions_out_unless_internal(runner: CliRunner) -> None:
    document = json.loads(epctl(runner, SAMPLE, "openapi").stdout)
    assert "description" not in document["paths"]["/"]["get"]


def test_openapi_refuses_version_and_env_together(runner: CliRunner) -> None:
    result = epctl(runner, SAMPLE, "openapi", "--version", "v1.0.0", "--env", "production")
    assert result.exit_code == 2
    assert "choose one of --version and --env" in result.stderr


def test_openapi_of_an_unknown_environment_names_the_known_ones(runner: CliRunner) -> None:
    result = epctl(runner, SAMPLE, "openapi", "--env", "staging")
    assert result.exit_code == 1
    assert 'Error: no environment "staging" in epctl.toml (environments: production)' in result.stderr


def test_openapi_to_an_unwritable_place_is_an_error_not_a_traceback(
    runner: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "missing" / "openapi.json"
    result = epctl(runner, SAMPLE, "openapi", "--out", str(out))
    assert result.exit_code == 1
    assert f"Error: cannot write {out}: No such file or directory" in result.stderr.replace("\n", "")


# One route of every shape of README "Routes", each under its own prefix.
EVERY_SHAPE = [
    "/",
    "/literal/path",
    "/trailing/",
    "/param/{id}",
    "/optional/{id}/{attr?}",
    "/wild/{rest*}",
    "/{everything*}",
    "/multi/{pair*2}/end",
    "/files/{name}.{ext}",
    "/api/v{n}/items",
    "/mixed/a{b?}c{d}",
]


def test_every_exported_path_reaches_its_endpoint_with_its_params(
    runner: CliRunner, write_project: WriteProject
) -> None:
    """The document and the router agree: a request built from each OpenAPI path, as a client would
    build it, is matched (by `epctl match -`) to the operation's endpoint with the values it sent."""
    reply = 'reply = { type = "redirect", to = "/" }'
    endpoints = "".join(
        f'[[endpoint]]\nid = "e{n}"\nmethod = "GET"\nroute = "{route}"\n{reply}\n'
        for n, route in enumerate(EVERY_SHAPE)
    )
    root = write_project({"endpoints/e.toml": endpoints})
    document = json.loads(epctl(runner, root, "openapi").stdout)
    validate(document)
    requests = []  # (path, endpoint id, params expected)
    for template, item in document["paths"].items():
        operation = item["get"]
        values = {}
        for parameter in operation.get("parameters", []):
            pattern = parameter["schema"].get("pattern", "")
            more = re.search(r"\{(\d+)\}", pattern)  # `^[^/]+(?:/[^/]+){1}$`: 2 segments
            count = int(more.group(1)) + 1 if more else 1
            value = "x/y" if "*" in pattern else "/".join([parameter["name"] + "-v"] * count)
            values[parameter["name"]] = value
        path = template
        for name, value in values.items():
            path = path.replace("{" + name + "}", value)
        requests.append((path, operation["x-epctl-endpoint"], values))
        if "x-epctl-absent-wildcard" in operation:
            requests.append((operation["x-epctl-absent-wildcard"], operation["x-epctl-endpoint"], {}))
    assert len(requests) == len(EVERY_SHAPE) + 2  # `{attr?}` gives two paths, `/wild/{rest*}` an absent form
    result = epctl(runner, root, "match", "-", input="".join(f"GET {path}\n" for path, _, _ in requests))
    assert result.exit_code == 0, result.output
    matched = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(m["path"], m["endpoint"], m["params"]) for m in matched] == requests


# -- audit ------------------------------------------------------------------------------------------


def test_audit_of_the_sample_is_clean_with_its_two_reviewed_findings_suppressed(runner: CliRunner) -> None:
    result = epctl(runner, SAMPLE, "audit", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["findings"] == []
    assert report["summary"] == {
        "errors": 0,
        "warnings": 0,
        "info": 0,
        "suppressed": 2,
        "project": "smart-farm",
        "version": "develop",
    }
    inline = {"kind": "inline", "key": None, "id": None}
    assert report["suppressed"] == [
        {
            "rule": "public-catch-all",
            "severity": "warning",
            "message": 'GET /api/{rest*} (endpoint "api-not-found") answers every path under /api/ to '
            "anyone; narrow the route or require a user or an API key",
            "file": "endpoints/api.toml",
            "line": 48,
            "key": "endpoint[5].route",
            "id": "api-not-found",
            "help": "A public route ending in {p*} answers every path under its prefix, including paths "
            "nobody reviewed. Narrow the route, or require a user or an API key.",
            "suppressed_by": {**inline, "file": "endpoints/api.toml", "line": 48},
        },
        {  # the sign-in form: public by nature
            "rule": "public-write-without-key",
            "severity": "warning",
            "message": 'POST /login (endpoint "sign-in") is public and needs no API key: anyone can call '
            'it; set access = "authenticated" or api_key = true',
            "file": "endpoints/session.toml",
            "line": 6,
            "key": "endpoint[0].method",
            "id": "sign-in",
            "help": "A public POST, PUT, PATCH or DELETE endpoint lets anyone change data. Require a "
            'user (access = "authenticated" or "groups") or an API key (api_key = true).',
            "suppressed_by": {**inline, "file": "endpoints/session.toml", "line": 6},
        },
    ]


@pytest.fixture
def unreviewed(sample: Path) -> Path:
    """A copy of the sample without its two suppression comments: two warnings in two files."""
    for name in ("api.toml", "session.toml"):
        path = sample / "endpoints" / name
        path.write_text(re.sub(r"  # epctl: ignore\[[a-z-]+\]", "", path.read_text()))
    return sample


def test_audit_text_goes_to_stderr_grouped_by_file(runner: CliRunner, unreviewed: Path) -> None:
    result = epctl(runner, unreviewed, "audit")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert "endpoints/api.toml" in lines
    assert any(line.startswith("     48  warning public-catch-all  GET /api/{rest*}") for line in lines)
    assert lines[-1] == "! 0 errors, 2 warnings, 0 info in 2 files"


def test_audit_summary_is_a_cross_only_when_the_run_fails(runner: CliRunner, unreviewed: Path) -> None:
    result = epctl(runner, unreviewed, "audit", "--fail-on", "warning")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == "✗ 0 errors, 2 warnings, 0 info in 2 files"


def test_audit_fails_at_the_level_asked_for(runner: CliRunner, unreviewed: Path) -> None:
    assert epctl(runner, unreviewed, "audit", "--fail-on", "warning").exit_code == 1
    assert epctl(runner, unreviewed, "audit", "--fail-on", "error").exit_code == 0
    assert epctl(runner, SAMPLE, "audit", "--fail-on", "warning").exit_code == 0  # both suppressed


def test_audit_of_a_frozen_version(runner: CliRunner) -> None:
    result = epctl(runner, SAMPLE, "audit", "--version", "v1.0.0", "--format", "json")
    assert result.exit_code == 0, result.output
    [finding] = json.loads(result.stdout)["findings"]
    assert (finding["rule"], finding["file"], finding["line"]) == (
        "public-catch-all",
        "versions/v1.0.0.toml",
        106,
    )


def test_audit_of_the_planted_project_reports_each_rule_once(
    runner: CliRunner, write_project: WriteProject
) -> None:
    root = write_project(PLANTED)
    plant_signed_versions(root)
    result = epctl(runner, root, "audit", "--format", "json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert sorted(f["rule"] for f in report["findings"]) == [
        "bad-version-signature",
        "cors-wildcard-with-cookie",
        "endpoint-without-reply",
        "groups-unauthorized-2xx",
        "html-missing-security-headers",
        "public-catch-all",
        "public-write-without-key",
        "redirect-from-params",
        "secret-like-global",
        "unsigned-version-with-trusted-keys",
    ]
    assert {k: report["summary"][k] for k in ("errors", "warnings", "info", "suppressed")} == {
        "errors": 4,
        "warnings": 5,
        "info": 1,
        "suppressed": 0,
    }


def test_audit_sarif_describes_every_rule_and_each_finding(
    runner: CliRunner, write_project: WriteProject
) -> None:
    result = epctl(runner, write_project(PLANTED), "audit", "--format", "sarif")
    assert result.exit_code == 1, result.output
    log = json.loads(result.stdout)
    assert log["version"] == "2.1.0"
    [run] = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert len(rules) == 10
    assert rules[0] == {
        "id": "public-write-without-key",
        "shortDescription": {"text": "Public write endpoint without an API key"},
        "help": {
            "text": "A public POST, PUT, PATCH or DELETE endpoint lets anyone change data. Require a user "
            '(access = "authenticated" or "groups") or an API key (api_key = true).'
        },
        "defaultConfiguration": {"level": "warning"},
    }
    levels = {r["ruleId"]: r["level"] for r in run["results"]}
    assert levels["endpoint-without-reply"] == "note"
    assert levels["secret-like-global"] == "error"
    first = run["results"][0]
    assert rules[first["ruleIndex"]]["id"] == first["ruleId"]
    artifact = {"uri": "endpoints/e.toml", "uriBaseId": "%SRCROOT%"}
    assert first["locations"] == [
        {"physicalLocation": {"artifactLocation": artifact, "region": {"startLine": 3}}}
    ]


def test_audit_sarif_names_files_from_the_current_folder_as_validate_does(
    runner: CliRunner, write_project: WriteProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CI runs at the repository root and code scanning resolves paths from there."""
    root = write_project(PLANTED)
    monkeypatch.chdir(root.parent)
    [run] = json.loads(epctl(runner, root, "audit", "--format", "sarif").stdout)["runs"]
    artifact = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": f"{root.name}/endpoints/e.toml", "uriBaseId": "%SRCROOT%"}
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": root.parent.resolve().as_uri() + "/"}}


def test_audit_of_a_clean_project_says_so(runner: CliRunner, write_project: WriteProject) -> None:
    result = epctl(runner, write_project({}), "audit")
    assert result.exit_code == 0, result.output
    assert result.stderr == "✓ t develop: no findings (10 rules)\n"


def test_audit_rejects_an_unknown_format(runner: CliRunner) -> None:
    result = epctl(runner, SAMPLE, "audit", "--format", "xml")
    assert result.exit_code == 2
    # rich boxes and wraps usage errors; compare the words only.
    words = " ".join(result.stderr.replace("│", " ").split())
    assert "Invalid value for '--format' / '-f': 'xml' is not one of 'text', 'json', 'sarif'." in words


def test_audit_of_an_invalid_project_prints_its_problems(
    runner: CliRunner, write_project: WriteProject
) -> None:
    root = write_project({"endpoints/e.toml": '[[endpoint]]\nid = "x"\nmethod = "GET"\nroute = "no-slash"\n'})
    result = epctl(runner, root, "audit")
    assert result.exit_code == 1
    assert "invalid-route" in result.stderr


# -- audit suppressions: `validate`'s `[lint]` keys and `# epctl: ignore[...]` comments -------------

SUPPRESSING = {
    **PLANTED,
    "epctl.toml": PLANTED["epctl.toml"]
    + """
        [lint]
        ignore = ["secret-like-global"]
        per_file_ignores = { "versions/**" = ["unsigned-version-with-trusted-keys"] }
    """,
    "endpoints/e.toml": PLANTED["endpoints/e.toml"].replace(
        'route = "/files/{path*}"', 'route = "/files/{path*}"  # epctl: ignore[public-catch-all]'
    ),
}


@pytest.fixture
def suppressing(write_project: WriteProject) -> Path:
    root = write_project(SUPPRESSING)
    plant_signed_versions(root)
    return root


def test_audit_findings_are_suppressed_by_lint_keys_and_inline_comments(
    runner: CliRunner, suppressing: Path
) -> None:
    result = epctl(runner, suppressing, "audit", "--format", "json")
    assert result.exit_code == 1, result.output  # errors are left: redirect-from-params, ...
    report = json.loads(result.stdout)
    assert [(s["rule"], s["file"], s["line"], s["suppressed_by"]) for s in report["suppressed"]] == [
        (
            "public-catch-all",
            "endpoints/e.toml",
            10,
            {"kind": "inline", "file": "endpoints/e.toml", "line": 10, "key": None, "id": None},
        ),
        (
            "secret-like-global",
            "epctl.toml",
            7,
            {"kind": "lint", "file": "epctl.toml", "line": 10, "key": "lint.ignore[0]", "id": None},
        ),
        (
            "unsigned-version-with-trusted-keys",
            "versions/v1.toml",
            5,
            {
                "kind": "lint",
                "file": "epctl.toml",
                "line": 11,
                "key": "lint.per_file_ignores.versions/**",
                "id": None,
            },
        ),
    ]
    suppressed = {"public-catch-all", "secret-like-global", "unsigned-version-with-trusted-keys"}
    assert suppressed.isdisjoint(f["rule"] for f in report["findings"])
    assert len(report["findings"]) == 7
    assert report["summary"] == {
        "errors": 3,
        "warnings": 3,
        "info": 1,
        "suppressed": 3,
        "project": "planted",
        "version": "develop",
    }


def test_audit_text_counts_the_suppressed_findings(runner: CliRunner, suppressing: Path) -> None:
    result = epctl(runner, suppressing, "audit")
    assert result.exit_code == 1
    assert "public-catch-all" not in result.stderr
    assert result.stderr.splitlines()[-1] == "✗ 3 errors, 3 warnings, 1 info in 3 files (3 suppressed)"


def test_audit_sarif_keeps_suppressed_findings_as_suppressed_results(
    runner: CliRunner, suppressing: Path
) -> None:
    result = epctl(runner, suppressing, "audit", "--format", "sarif")
    [run] = json.loads(result.stdout)["runs"]
    suppressions = {r["ruleId"]: r["suppressions"] for r in run["results"] if "suppressions" in r}
    assert suppressions == {
        "public-catch-all": [
            {
                "kind": "inSource",
                "location": {
                    "physicalLocation": {
                        "artifactLocation": {"uri": "endpoints/e.toml", "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": 10},
                    }
                },
            }
        ],
        "secret-like-global": [
            {
                "kind": "external",
                "location": {
                    "physicalLocation": {
                        "artifactLocation": {"uri": "epctl.toml", "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": 10},
                    }
                },
            }
        ],
        "unsigned-version-with-trusted-keys": [
            {
                "kind": "external",
                "location": {
                    "physicalLocation": {
                        "artifactLocation": {"uri": "epctl.toml", "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": 11},
                    }
                },
            }
        ],
    }
    assert len(run["results"]) == 10  # every finding, suppressed or not


def test_validate_accepts_audit_rule_ids_in_suppressions(runner: CliRunner, suppressing: Path) -> None:
    result = epctl(runner, suppressing, "validate", "--format", "json")
    assert result.exit_code == 0, result.output
    assert [p["code"] for p in json.loads(result.stdout)["problems"]] == ["no-reply"]


def test_a_clean_audit_says_how_many_findings_it_suppressed(
    runner: CliRunner, write_project: WriteProject
) -> None:
    endpoint = """
        [[endpoint]]  # epctl: ignore[endpoint-without-reply]
        id = "x"
        method = "GET"
        route = "/x"
    """
    result = epctl(runner, write_project({"endpoints/e.toml": endpoint}), "audit")
    assert result.exit_code == 0, result.output
    assert result.stderr == "✓ t develop: no findings (10 rules, 1 suppressed)\n"


def test_audit_refuses_a_suppression_of_an_unknown_rule(
    runner: CliRunner, write_project: WriteProject
) -> None:
    endpoint = """
        [[endpoint]]
        id = "x"
        method = "GET"
        route = "/x/{p*}"  # epctl: ignore[public-catch-al]
    """
    result = epctl(runner, write_project({"endpoints/e.toml": endpoint}), "audit")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-3:] == [
        '      4  error   invalid-value  in `# epctl: ignore[...]`: "public-catch-al" is not a problem '
        'code or audit rule; did you mean "public-catch-all"?',
        "",
        "✗ 1 error, 0 warnings in 1 file",
    ]


def test_audit_of_a_version_its_signature_keeps_from_serving(
    runner: CliRunner, sample: Path, tmp_path: Path
) -> None:
    """`--version` audits a version that serve, promote and restore would refuse, and says why."""
    from tests.cli.test_signed_versions import make_key, trust

    trust(sample, make_key(tmp_path / "keys")[1])
    result = epctl(runner, sample, "audit", "--version", "v1.0.0", "--format", "json")
    assert result.exit_code == 0, result.output  # warnings
    found = [(f["rule"], f["file"], f["line"]) for f in json.loads(result.stdout)["findings"]]
    assert found == [
        ("unsigned-version-with-trusted-keys", "versions/v1.0.0.toml", 5),
        ("public-catch-all", "versions/v1.0.0.toml", 106),
    ]

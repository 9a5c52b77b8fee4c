"""How `epctl test` reports: text, JSON and JUnit XML."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

from rich.markup import escape

from epctl.cli.output import plural, stderr
from epctl.schemas.project import DEVELOP

if TYPE_CHECKING:
    from epctl.runtime.cases import CaseReport

# XML 1.0 cannot hold these characters at all, escaped or not.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def summarize(report: CaseReport) -> dict[str, Any]:
    failed = len(report.failed)
    return {
        "project": report.project,
        "version": report.version,
        "total": len(report.results),
        "passed": len(report.results) - failed,
        "failed": failed,
    }


def report_json(report: CaseReport) -> dict[str, Any]:
    return {
        "cases": [
            {
                "name": result.name,
                "file": result.place.file,
                "line": result.place.line,
                "passed": result.passed,
                "status": result.status,
                "failures": list(result.failures),
                "notes": list(result.notes),
                "seconds": round(result.seconds, 6),
            }
            for result in report.results
        ],
        "summary": summarize(report),
    }


def print_report_text(report: CaseReport) -> None:
    """Print one line per case to stderr, what failed under each failing case, then a summary."""
    summary = summarize(report)
    title = f"{escape(report.project)} {escape(report.version)}"
    if not report.results:
        hint = (
            "add [[case]] tables under tests/ to test it"
            if report.version == DEVELOP
            else "develop had none under tests/ when it was frozen"
        )
        stderr.print(f"No request cases in {title}: {escape(hint)}.")
        return
    stderr.print(f"[bold]{title}[/]: {plural(summary['total'], 'request case')}")
    for result in report.results:
        mark = "[green]✓[/]" if result.passed else "[red]✗[/]"
        where = escape(result.place.location())
        timing = f"{result.status}, {result.seconds * 1000:.0f} ms"
        stderr.print(f"  {mark} [dim]{where}[/]  {escape(result.name)}  [dim]({timing})[/]")
        if not result.passed:
            for line in (*result.failures, *result.notes):
                stderr.print(f"      [red]{escape(line)}[/]")
    if report.passed:
        stderr.print(f"[green]✓ {plural(summary['passed'], 'case')} passed[/]")
    else:
        stderr.print(f"[red]✗ {summary['failed']} failed[/], {summary['passed']} passed")


def report_junit(report: CaseReport) -> str:
    """Return the JUnit XML of a report: one testsuite for the version, one testcase per case."""
    summary = summarize(report)
    seconds = f"{sum(result.seconds for result in report.results):.6f}"
    counts = {"tests": str(summary["total"]), "failures": str(summary["failed"]), "errors": "0"}
    suites = ET.Element("testsuites", {"name": "epctl test", **counts, "time": seconds})
    suite = ET.SubElement(
        suites,
        "testsuite",
        {"name": f"{report.project} {report.version}", **counts, "skipped": "0", "time": seconds},
    )
    for result in report.results:
        place = result.place
        attributes = {
            "classname": re.sub(r"\.toml$", "", place.file).replace("/", "."),
            "name": _xml_text(result.name),
            "file": place.file,
            "time": f"{result.seconds:.6f}",
        }
        if place.line:
            attributes["line"] = str(place.line)
        case = ET.SubElement(suite, "testcase", attributes)
        if not result.passed:
            failure = ET.SubElement(
                case, "failure", {"message": _xml_text(result.failures[0]), "type": "case"}
            )
            failure.text = _xml_text("\n".join((*result.failures, *result.notes)))
    return ET.tostring(suites, encoding="unicode", xml_declaration=True)


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)

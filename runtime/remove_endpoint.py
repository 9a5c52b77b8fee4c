"""`epctl remove endpoint`: Losant's delete, with its workflows.

The endpoint's table goes. Every workflow it triggers loses that trigger; with `with_workflows`, a
workflow that only it triggered goes too (a workflow shared with other endpoints keeps them). API
keys that name it stop naming it. Handler code is left in place: it is the author's to delete, and
other handlers may import it. Each change is planned and described before anything is written.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from epctl.runtime.scaffold_endpoint import FileChange
from epctl.runtime.toml_edits import remove_array_value, remove_table
from epctl.schemas.loader import CONFIG_FILE
from epctl.schemas.problems import EpctlError, did_you_mean
from epctl.schemas.project import Project

_INDEX = re.compile(r"\[(\d+)\]$")


class RemoveError(EpctlError):
    """Something `remove` cannot do; the message says why."""


@dataclass(frozen=True, slots=True)
class Removal:
    """What removing an endpoint changes: the files, and one line per change for the user."""

    changes: list[FileChange]
    described: list[str]


def _index(key: str) -> int:
    match = _INDEX.search(key)
    assert match is not None, key
    return int(match.group(1))


def plan_remove_endpoint(project: Project, endpoint_id: str, *, with_workflows: bool) -> Removal:
    """Return the changes that remove endpoint `endpoint_id` (see the module's docstring).

    Raises RemoveError for an id the project does not declare, and EditError for a file laid out in
    a way that cannot be edited safely.
    """
    endpoint = project.endpoint(endpoint_id)
    if endpoint is None:
        raise RemoveError(
            f'no endpoint "{endpoint_id}" in this project'
            + did_you_mean(endpoint_id, [e.id for e in project.endpoints])
        )
    where = project.declarations
    # Per file: values taken out of arrays (no table moves), then whole tables, last first so the
    # indexes of the earlier ones still hold.
    arrays: dict[str, list[tuple[tuple[str | int, ...], str]]] = defaultdict(list)
    tables: dict[str, list[tuple[str, int]]] = defaultdict(list)
    described: list[str] = []

    file, key = where.keys[("endpoint", endpoint_id)]
    tables[file].append(("endpoint", _index(key)))
    place = where.place("endpoint", endpoint_id)
    described.append(
        f'- [[endpoint]] "{endpoint_id}"  {endpoint.method} {endpoint.route}  {place.file}:{place.line}'
    )

    for workflow in project.workflows_for(endpoint_id):
        file, key = where.keys[("workflow", workflow.name)]
        place = where.place("workflow", workflow.name)
        at = f"{place.file}:{place.line}"
        others = [e for e in workflow.endpoints if e != endpoint_id]
        if with_workflows and not others:
            tables[file].append(("workflow", _index(key)))
            described.append(
                f'- [[workflow]] "{workflow.name}"  {at}  (only this endpoint triggered it; its handler '
                f"{workflow.handler} is left for you to delete)"
            )
            continue
        arrays[file].append((("workflow", _index(key), "endpoints"), endpoint_id))
        if others:
            still = f"still triggered by {', '.join(others)}"
        else:
            still = "now triggered by no endpoint; --with-workflows removes such workflows"
        described.append(f'~ [[workflow]] "{workflow.name}"  {at}: trigger removed ({still})')

    for index, api_key in enumerate(project.api_keys):
        if endpoint_id in api_key.endpoints:
            arrays[CONFIG_FILE].append((("api_key", index, "endpoints"), endpoint_id))
            place = where.locate(CONFIG_FILE, f"api_key[{index}]")
            described.append(
                f'~ [[api_key]] "{api_key.name}"  {place.file}:{place.line}: endpoint "{endpoint_id}" removed'
            )

    changes = []
    for path in sorted({*arrays, *tables}):
        text = (project.root / path).read_text(encoding="utf-8")
        for array_path, value in arrays.get(path, []):
            text = remove_array_value(text, array_path, value, path)
        for kind, index in sorted(tables.get(path, []), key=lambda item: -item[1]):
            text = remove_table(text, kind, index, path)
        changes.append(FileChange(path, text, created=False))
    return Removal(changes, described)

"""Why one route beats another for the same request (c), in one sentence for `epctl match`.

Section letters refer to the parts of the routing rules that README's "Routes" section summarises.
"""

from __future__ import annotations

from typing import TypeVar

from epctl.schemas.routing.syntax import LITERAL, MIXED, OPTIONAL, PARAM, WILDCARD, MixedOrder
from epctl.schemas.routing.table import Candidate
from epctl.schemas.routing.tree import ABSENT_OPTIONAL, ABSENT_WILDCARD, FULL_LITERAL

T = TypeVar("T")


def explain_precedence(winner: Candidate[T], loser: Candidate[T]) -> str:
    """Return one sentence saying why `winner` ranks above `loser` for the same request.

    Both come from one `match_all` call. Raises ValueError when `loser` actually ranks first or both
    are the same route.
    """
    if winner.route == loser.route:
        raise ValueError(f"{winner.route.path} and {loser.route.path} are the same route")
    segments = winner.path.split("/")[1:]
    for index, current in enumerate(segments):
        won, lost = _alternative(winner, index), _alternative(loser, index)
        if won == lost:
            continue
        if won > lost:
            raise ValueError(f"{loser.route.path} ranks above {winner.route.path}")
        reason = _mixed_reason(winner, loser, index) if won[0] == lost[0] == 2 else ""
        return (
            f"segment {index + 1} ('{current}'): {_describe(winner, index, segments)} beats "
            f"{_describe(loser, index, segments)}{reason}"
        )
    won_end, lost_end = _ending(winner), _ending(loser)
    if won_end < lost_end:
        absent = ""
        if winner.steps[-1] == ABSENT_OPTIONAL:
            absent = f" (its optional {winner.route.segments[-1].source} absent)"
        ends = f"'{winner.route.path}' ends at the request's last segment{absent}"
        return f"{ends}; an absent wildcard ranks below"
    if won_end > lost_end:
        raise ValueError(f"{loser.route.path} ranks above {winner.route.path}")
    return f"'{winner.route.path}' is found first by the depth-first search"


def _alternative(candidate: Candidate[T], index: int) -> tuple[int] | tuple[int, MixedOrder | None]:
    """Rank of the alternative the candidate took at request segment `index` (c, 1-5)."""
    step = candidate.steps[index]
    if step in (FULL_LITERAL, LITERAL):
        # Trying `fulls` first is only a shortcut: an all-literal route wins exactly where walking its
        # literals one by one would win (literal first at each position, an edge before an absent
        # wildcard at the end), so both count as literal steps here.
        return (1,)
    if step == MIXED:
        return (2, candidate.route.segments[index].order)
    if step in (PARAM, OPTIONAL):
        return (3,)
    return (4,)


def _ending(candidate: Candidate[T]) -> int:
    # After the last request segment a route ending there (its `{p?}` maybe absent) beats an absent `{p*}`.
    return 1 if candidate.steps[-1] == ABSENT_WILDCARD else 0


def _describe(candidate: Candidate[T], index: int, segments: list[str]) -> str:
    step = candidate.steps[index]
    if step in (FULL_LITERAL, LITERAL):
        return f"literal '{segments[index]}'"
    if step == WILDCARD:
        return f"wildcard {candidate.route.segments[-1].source}"
    segment = candidate.route.segments[index]
    if step == MIXED:
        return f"mixed '{segment.source}'"
    return f"{step} {segment.source}"


def _mixed_reason(winner: Candidate[T], loser: Candidate[T], index: int) -> str:
    won = winner.route.segments[index].order
    lost = loser.route.segments[index].order
    assert won is not None and lost is not None, "a mixed step is always on a mixed segment"
    if won.parts != lost.parts:
        return f" (more parts: {-won.parts} vs {-lost.parts})"
    if won.param_first != lost.param_first:
        return " (literal-first before param-first)"
    for (_, won_chunk), (_, lost_chunk) in zip(won.literals, lost.literals, strict=True):
        if won_chunk == lost_chunk:
            continue
        if len(won_chunk) != len(lost_chunk):
            return f" (longer literal '{won_chunk}' vs '{lost_chunk}')"
        return f" (literal '{won_chunk}' sorts before '{lost_chunk}')"
    return " (required params rank before optional ones)"

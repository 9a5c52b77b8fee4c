"""The matcher of one mixed segment (`{name}.{ext}`, `v{n}`, `{y}-{m}-{d}.csv`), in linear time (c).

hapi matches a mixed segment with a regex, `(.+)` for `{p}` and `(.*)` for `{p?}` between the escaped
literal chunks, greedy. A backtracking engine takes cubic time on `{y}-{m}-{d}.csv` against a segment of
dashes, holding the GIL, so epctl finds the chunks with `str.rfind` instead and gives exactly the
regex's answer. Section letters refer to the parts of the routing rules README's "Routes" summarises.
"""

from __future__ import annotations


class MixedPattern:
    """Literal chunks with params between them: `chunks[i]`, param i, `chunks[i + 1]`, ...

    `chunks` has one more entry than `optional`; the first and last may be '' (the segment starts or
    ends with a param), the others never are (the grammar wants a literal between two params).
    `optional[i]` is True for a `{p?}`, which may match '', and False for a `{p}`, which may not.
    """

    __slots__ = ("_head", "_searches", "_shortest", "_tail", "chunks", "optional")

    def __init__(self, chunks: tuple[str, ...], optional: tuple[bool, ...]) -> None:
        if len(chunks) != len(optional) + 1 or not optional:
            raise ValueError("a mixed segment has one chunk more than params, and at least one param")
        self.chunks = chunks
        self.optional = optional
        self._head = chunks[0]
        self._tail = chunks[-1]
        minimums = [0 if flag else 1 for flag in optional]
        self._shortest = sum(len(chunk) for chunk in chunks) + sum(minimums)
        # One search per chunk between params, right to left: (chunk, the leftmost place it may start,
        # the shortest value of the param after it, its length). It may start no further left than
        # the head, the chunks before it and the shortest values of the params before it allow.
        searches = []
        low = len(self._head) + minimums[0]
        for j in range(1, len(optional)):
            searches.append((chunks[j], low, minimums[j], len(chunks[j])))
            low += len(chunks[j]) + minimums[j]
        self._searches = tuple(reversed(searches))

    def __repr__(self) -> str:
        return f"<MixedPattern {self.chunks!r} {self.optional!r}>"

    def match(self, text: str) -> tuple[str, ...] | None:
        """Return the value of each param in `text` (still percent-encoded), or None when it does not
        match. The values are exactly those of the greedy regex `^chunk(.+)chunk(.*)...chunk$`.
        """
        # Greedy: the first param takes as much as it can, then the second given the first, and so on.
        # Each choice is where a literal chunk lies, and a chunk's latest feasible place does not depend
        # on the params before it. So, from the right, each chunk goes at its last occurrence that
        # leaves the param after it its shortest length: no other placement gives the earlier params
        # more. `rfind` scans right to left and stops there; the next search ends where the last one
        # found its chunk, so together they read the text once.
        head = self._head
        if len(text) < self._shortest or not text.startswith(head) or not text.endswith(self._tail):
            return None
        stop = len(text) - len(self._tail)  # where the param being placed ends
        searches = self._searches
        if not searches:
            return (text[len(head) : stop],)
        if len(searches) == 1:
            # Two params (`{name}.{ext}`), the commonest shape after one: no list to build and reverse.
            chunk, low, minimum, length = searches[0]
            found = text.rfind(chunk, low, stop - minimum)
            if found < 0:
                return None
            return (text[len(head) : found], text[found + length : stop])
        values = []
        for chunk, low, minimum, length in searches:
            found = text.rfind(chunk, low, stop - minimum)
            if found < 0:
                return None
            values.append(text[found + length : stop])
            stop = found
        values.append(text[len(head) : stop])
        values.reverse()
        return tuple(values)

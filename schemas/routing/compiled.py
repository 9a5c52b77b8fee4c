"""The search tree (c) turned into Python code: one function per method that answers as `find_leaf`.

`find_leaf` walks any tree, so at every node it asks which of the five kinds of alternative are there,
keeps the captured values in a list it restores on backtracking, and zips them with the names after.
For a known tree all of that is known in advance. `compile_finder` writes it out, as Falcon's
`CompiledRouter` does: each node's alternatives in the order `find_leaf` tries them, and only those the
node has; a request segment is a local variable, a captured value too, and a route's params are a dict
display with its names written in. A literal child is looked up in a dict of functions, one per child,
so a lookup never compares a segment with each sibling in turn; param and mixed children are nested in
their parent's code. The same request gives the same route and params either way; a property test
holds the two to that.

The code holds no text from a route or a request but param names, and those as Python literals
(`repr`): literal segments are dict keys and mixed patterns objects, both reached by name. A tree over
`MAX_COMPILED_NODES` nodes, or deeper than `MAX_COMPILED_DEPTH`, is walked instead: compiling it would
cost more time and memory at start than its requests save.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from epctl.schemas.routing.paths import decode_values
from epctl.schemas.routing.tree import Leaf, Node, find_leaf

T = TypeVar("T")

# What a finder returns for a normalized path split on '/': the route's leaf and its decoded params
# (None when a value is not valid percent-encoded UTF-8), or None when no route of the table matches.
Finding = tuple[Leaf[T], dict[str, str] | None] | None
Finder = Callable[[str, list[str]], Finding[T]]

# Python compiles the code at about 0.15 ms a node (a route adds one to three), once per process
# before it forks workers: 1,024 nodes take up to 0.15 s more at start (and about 10 MB while the
# compiler runs, 0.7 MB kept), and save about 7,000 instructions, a tenth of the request, on every
# request.
MAX_COMPILED_NODES = 1024
# Segments of the longest route compiled; a param or mixed child is nested in its parent's code, and
# the interpreter bounds how deep blocks may nest, so past `_NESTING` levels a child gets a function.
MAX_COMPILED_DEPTH = 64
_NESTING = 8
_ESCAPE = "%"  # a value holding one is decoded in general (and may fail); the others are as they are


def walk_finder(root: Node[T]) -> Finder[T]:
    """Return a finder that walks `root` with `find_leaf`: for trees not compiled."""

    def find(path: str, segments: list[str]) -> Finding[T]:
        values: list[str] = []
        leaf = find_leaf(root, path, 0, segments, 1, values)
        if leaf is None:
            return None
        return leaf, decode_values(leaf.route, values)

    return find


def compile_finder(root: Node[T], method: str) -> Finder[T] | None:
    """Return a finder for `root` as Python code, or None when the tree is over the limits (walk it
    instead). `root` must not change afterwards."""
    if not _within_limits(root):
        return None
    writer = _Writer[T]()
    writer.write_root(root)
    namespace = writer.namespace
    exec(compile("\n".join(writer.lines), f"<epctl routes {method}>", "exec"), namespace)
    # The literal children's functions exist only now: fill each node's dict of them.
    for table, names in writer.dispatch:
        namespace[table].update((text, namespace[name]) for text, name in names.items())
    finder: Finder[T] = namespace["find"]
    return finder


def _within_limits(root: Node[T]) -> bool:
    count = 0
    stack: list[tuple[Node[T], int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_COMPILED_NODES or depth > MAX_COMPILED_DEPTH:
            return False
        stack.extend((child, depth + 1) for child in _children(node))
    return True


def _arguments(position: str, values: list[str]) -> str:
    """Return the parameters of a child's function, or the arguments of a call to it: its segment
    starts at `position` in the path, and `values` are the values captured before it."""
    return ", ".join(["path", "segments", "n", position, *values])


def _children(node: Node[T]) -> list[Node[T]]:
    children = list(node.literals.values()) if node.literals else []
    children += [entry.node for entry in node.mixed or ()]
    if node.param is not None:
        children.append(node.param)
    return children


class _Writer(Generic[T]):
    """Writes the source of one table's finder; objects it refers to go in `namespace` by name."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = {"decode": decode_values}
        # (name of a node's dict of literal children, {segment text: name of the child's function}).
        self.dispatch: list[tuple[str, dict[str, str]]] = []
        self._pending: list[tuple[str, Node[T], int, int]] = []  # functions still to write
        self._functions = 0
        self._position: dict[int, bool] = {}  # id(node) -> whether its code reads the path position

    def name(self, value: object, prefix: str) -> str:
        """Put `value` in the namespace; return its name."""
        name = f"{prefix}{len(self.namespace)}"
        self.namespace[name] = value
        return name

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    def write_root(self, root: Node[T]) -> None:
        # Every normalized path starts with '/': segments[0] is '' and segments[1] exists.
        self.emit(0, "def find(path, segments):")
        self.emit(1, "n = len(segments)")
        self.write_node(root, 1, "0", [], 1, 0)
        self.emit(1, "return None")
        while self._pending:
            function, node, index, captured = self._pending.pop()
            values = [f"c{number}" for number in range(captured)]
            self.emit(0, f"def {function}({_arguments('p', values)}):")
            self.write_child_body(node, index, "p", values, 1, 0)
            self.emit(1, "return None")

    def reads_position(self, node: Node[T]) -> bool:
        """Whether `node`'s code needs the position of its segment in the path (for a remainder)."""
        known = self._position.get(id(node))
        if known is None:
            known = bool(node.fulls or node.wildcard or node.literals) or any(
                self.reads_position(child) for child in _children(node)
            )
            self._position[id(node)] = known
        return known

    def write_node(
        self, node: Node[T], index: int, position: str, values: list[str], indent: int, depth: int
    ) -> None:
        """Write `find_leaf`'s five steps at `node`, request segment `index`; fall through on no match.

        `position` is the expression of `path[pos:]`'s start, `values` those of the values captured."""
        # (c) 1. a remainder of literal segments spelling the rest of the path.
        if node.fulls:
            fulls = self.name(node.fulls, "F")
            rest = "path" if position == "0" else f"path[{position}:]"
            self.emit(indent, f"leaf = {fulls}.get({rest})")
            self.emit(indent, "if leaf is not None:")
            self.write_found(indent + 1, "leaf", None, values)
        segment = f"s{index}"
        self.emit(indent, f"{segment} = segments[{index}]")
        following = f"len({segment}) + 1" if position == "0" else f"{position} + len({segment}) + 1"
        # (c) 2. the literal child named by the segment: its own function, found by dict.
        if node.literals:
            functions = {
                text: self.defer(child, index + 1, len(values)) for text, child in node.literals.items()
            }
            table = self.name({}, "L")
            self.dispatch.append((table, functions))
            self.emit(indent, f"child = {table}.get({segment})")
            self.emit(indent, "if child is not None:")
            self.emit(indent + 1, f"found = child({_arguments(following, values)})")
            self.emit(indent + 1, "if found is not None:")
            self.emit(indent + 2, "return found")
        # (c) 3. mixed children in MIXED ORDER, each with its own pattern.
        for entry in node.mixed or ():
            pattern = self.name(entry.pattern, "M")
            groups = f"g{index}"
            self.emit(indent, f"{groups} = {pattern}.match({segment})")
            self.emit(indent, f"if {groups} is not None:")
            captured = [f"{groups}[{number}]" for number in range(len(entry.pattern.optional))]
            self.write_child(entry.node, index + 1, following, [*values, *captured], indent + 1, depth + 1)
        # (c) 4. a whole-segment param: never an empty segment, but a last `{p?}` takes an empty last one.
        child = node.param
        if child is not None:
            self.emit(indent, f"if {segment}:")
            self.write_child(child, index + 1, following, [*values, segment], indent + 1, depth + 1)
            if child.edge is not None and child.edge.optional_edge:
                self.emit(indent, f"elif n == {index + 1}:")
                self.write_found(indent + 1, self.name(child.edge, "E"), child.edge, [*values, "''"])
        # (c) 5. a `{p*}` here takes the rest of the path.
        if node.wildcard is not None:
            self.emit(indent, f"rest = path[{position} + 1:]")
            self.write_found(indent, self.name(node.wildcard, "W"), node.wildcard, [*values, "rest"])

    def write_child(
        self, node: Node[T], index: int, position: str, values: list[str], indent: int, depth: int
    ) -> None:
        """Write the search of a param or mixed child whose segment is `index - 1`: nested here, or past
        `_NESTING` levels a call to a function of its own."""
        if depth < _NESTING:
            self.write_child_body(node, index, position, values, indent, depth)
            return
        function = self.defer(node, index, len(values))
        self.emit(indent, f"found = {function}({_arguments(position, values)})")
        self.emit(indent, "if found is not None:")
        self.emit(indent + 1, "return found")

    def write_child_body(
        self, node: Node[T], index: int, position: str, values: list[str], indent: int, depth: int
    ) -> None:
        # After the last request segment, a child answers with the route ending there, else its absent
        # wildcard; otherwise the search goes on at segment `index`.
        ending = node.edge or node.wildcard
        searched = node.fulls or node.literals or node.mixed or node.param or node.wildcard
        if ending is not None:
            self.emit(indent, f"if n == {index}:")
            self.write_found(indent + 1, self.name(ending, "E"), ending, values)
            if not searched:
                return
            self.emit(indent, "else:")
        elif searched:
            self.emit(indent, f"if n != {index}:")
        else:
            self.emit(indent, "pass")  # not reached: a node exists only for a route through it
            return
        if position != "p" and self.reads_position(node):
            self.emit(indent + 1, f"p{index} = {position}")
            position = f"p{index}"
        self.write_node(node, index, position, values, indent + 1, depth)

    def defer(self, node: Node[T], index: int, captured: int) -> str:
        """Return the name of a function, written later, that searches `node` from segment `index`."""
        self._functions += 1
        function = f"n{self._functions}"
        self._pending.append((function, node, index, captured))
        return function

    def write_found(self, indent: int, leaf: str, known: Leaf[T] | None, values: list[str]) -> None:
        """Write the return of `leaf` with its params; `known` is the leaf when the code names one."""
        if not values:
            self.emit(indent, f"return {leaf}, {{}}")
            return
        listed = f"[{', '.join(values)}]"
        if known is None or known.route.captures is not known.route.params:
            # A leaf found in a dict, or a `{p*N}` route whose values join: decoded in general.
            self.emit(indent, f"return {leaf}, decode({leaf}.route, {listed})")
            return
        pairs = list(zip(known.route.captures, values, strict=False))
        self.emit(indent, f"if {' or '.join(f'{_ESCAPE!r} in {value}' for _, value in pairs)}:")
        self.emit(indent + 1, f"return {leaf}, decode({leaf}.route, {listed})")
        self.emit(indent, f"return {leaf}, {{{', '.join(f'{name!r}: {value}' for name, value in pairs)}}}")

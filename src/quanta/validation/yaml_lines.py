"""YAML documents that remember where each value was written.

Product files come from users, so the loader bounds what a file can cost: at most
`MAX_FILE_BYTES`, no anchors or aliases (an alias is the one YAML feature that lets a short
file expand into a huge document), and at most `MAX_DEPTH` mappings and lists inside each
other. The document is composed from the parser's events in one loop with an explicit stack,
so no input reaches Python's recursion limit, and it is parsed once: the line map and the
data come from the same nodes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any, Protocol

import yaml
from yaml.constructor import ConstructorError, SafeConstructor

Path = tuple[str | int, ...]

MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 64

SYNTAX_HINT = "fix the YAML syntax at that line"


class YamlProblem(Exception):
    def __init__(
        self, message: str, line: int | None, path: Path = (), hint: str = SYNTAX_HINT
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.path = path
        self.hint = hint


@dataclass
class LocatedYaml:
    data: Any
    lines: dict[Path, int] = field(default_factory=dict)

    def line_of(self, path: Path) -> int | None:
        """The line of the deepest part of ``path`` that exists in the document."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None

    def value_at(self, path: Path) -> Any:
        value = self.data
        for part in path:
            try:
                value = value[part]
            except (KeyError, IndexError, TypeError):
                return None
        return value


def read_located(path: FilePath) -> LocatedYaml:
    """Read and parse one YAML file, refusing one over `MAX_FILE_BYTES` before reading it.

    Raises YamlProblem, OSError, or UnicodeDecodeError for a file that is not UTF-8.
    """
    with path.open("rb") as file:
        size = os.fstat(file.fileno()).st_size
        if size > MAX_FILE_BYTES:
            raise _too_large(size)
        # A pipe reports no size: read no more than one byte past the limit.
        raw = file.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise _too_large(None)
    return load_located(raw.decode("utf-8"))


def load_located(text: str) -> LocatedYaml:
    """Parse one YAML document; raise YamlProblem with a line for malformed or hostile YAML."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        raise _too_large(size)
    loader: _Loader | None = None
    try:
        loader = _LOADER(text)
        located = LocatedYaml(None)
        root = _compose(loader, located.lines)
        if root is not None:
            located.data = loader.construct_document(root)
        return located
    except yaml.MarkedYAMLError as error:
        problem = error.problem or str(error)
        if problem == "exceeded maximum nesting depth":
            # libyaml's own limit (1,000 levels), met when its scanner looks ahead on a line
            # before the 65th level reaches the composer: the same problem, said the same way.
            raise _too_deep(_line(error.problem_mark or error.context_mark), ()) from None
        if (
            error.context_mark is not None
            and error.context
            and not isinstance(error, ConstructorError)
        ):
            # An unclosed bracket or quote: point at where it opens, not where parsing gave up.
            found = f" (line {error.problem_mark.line + 1})" if error.problem_mark else ""
            raise YamlProblem(
                f"this is not valid YAML: {error.context} that starts here is not closed: "
                f"{problem}{found}",
                error.context_mark.line + 1,
            ) from None
        line = error.problem_mark.line + 1 if error.problem_mark else None
        raise YamlProblem(f"this is not valid YAML: {problem}", line) from None
    except yaml.YAMLError as error:
        raise YamlProblem(f"this is not valid YAML: {error}", None) from None
    except UnicodeEncodeError:
        # Only text built in Python, never a decoded file, holds lone surrogates.
        raise YamlProblem("this is not valid YAML: it holds unpaired surrogates", None) from None
    finally:
        if loader is not None:
            loader.dispose()


class _Loader(Protocol):
    def get_event(self) -> Any: ...
    def check_event(self, *choices: type[yaml.Event]) -> bool: ...
    def resolve(self, kind: type[yaml.Node], value: str | None, implicit: Any) -> str: ...
    def construct_document(self, node: yaml.Node) -> Any: ...
    def dispose(self) -> None: ...


class _Construction(SafeConstructor):
    """`yaml.safe_load`'s values, with a value Python cannot build reported at its line.

    Plain SafeConstructor lets ``2024-13-45`` or ``!!int abc`` escape as a ValueError.
    """

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            if isinstance(node, yaml.ScalarNode) and node.tag == _INT_TAG:
                _check_int_length(node.value)
            value = super().construct_object(node, deep)
            if isinstance(value, int) and value.bit_length() > _LONGEST_INT_BITS:
                # 0x and 4,000 f's is short to write, and past what str() can print.
                raise ValueError(f"an integer is limited to {_LONGEST_INT:,} decimal digits")
            return value
        except (ArithmeticError, AttributeError, TypeError, ValueError) as error:
            kind = str(node.tag).rsplit(":", 1)[-1]
            written = f" {_shorten(node.value)!r}" if isinstance(node, yaml.ScalarNode) else ""
            raise ConstructorError(
                None,
                None,
                f"cannot read{written} as {kind} ({error}): quote it if it is text",
                node.start_mark,
            ) from None


_INT_TAG = "tag:yaml.org,2002:int"
# Python's own limit for decimal digits (sys.get_int_max_str_digits), kept for every base:
# sexagesimal integers (1:20:30) are multiplied out in quadratic time, so a long one stalls.
_LONGEST_INT = 4300
_LONGEST_INT_BITS = int(_LONGEST_INT * 3.32)  # log2(10): 4,300 decimal digits, in bits


def _check_int_length(written: str) -> None:
    if len(written) > _LONGEST_INT:
        raise ValueError(f"an integer is limited to {_LONGEST_INT:,} characters")


class _PythonLoader(_Construction, yaml.SafeLoader):
    pass


_LOADER: Callable[[str], _Loader] = _PythonLoader
if yaml.__with_libyaml__:

    class _CLoader(_Construction, yaml.CSafeLoader):
        pass

    _LOADER = _CLoader


@dataclass
class _Open:
    """A mapping or sequence whose end event has not come yet."""

    node: yaml.MappingNode | yaml.SequenceNode
    # None inside a mapping's key: keys are not places a validation issue points at.
    path: Path | None
    key: yaml.Node | None = None
    value_path: Path | None = None
    keys: set[str] = field(default_factory=set)


def _compose(loader: _Loader, lines: dict[Path, int]) -> yaml.Node | None:
    loader.get_event()  # stream start
    if loader.check_event(yaml.StreamEndEvent):
        return None
    loader.get_event()  # document start
    root = _compose_node(loader, lines)
    loader.get_event()  # document end
    if not loader.check_event(yaml.StreamEndEvent):
        another = loader.get_event()
        raise YamlProblem(
            "this file holds more than one YAML document: keep one (a '---' line starts another)",
            _line(another.start_mark),
        )
    return root


def _compose_node(loader: _Loader, lines: dict[Path, int]) -> yaml.Node:
    """The next node, read event by event: nesting lives in ``opened``, not in the call stack."""
    opened: list[_Open] = []
    while True:
        event = loader.get_event()
        done: yaml.Node
        if isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            done = opened.pop().node
            done.end_mark = event.end_mark
        else:
            path = _path_of_next(opened)
            # Any: libyaml's marks are yaml._yaml.Mark, which the node stubs do not allow.
            start: Any = event.start_mark
            end: Any = event.end_mark
            line = _line(start)
            if event.anchor is not None:  # an AliasEvent's anchor is the name it refers to
                mark = "*" if isinstance(event, yaml.AliasEvent) else "&"
                raise YamlProblem(
                    f"YAML anchors and aliases (&name, *name) are not allowed in Quanta's "
                    f"files, and this line has {mark}{_shorten(event.anchor)}: "
                    "write the value out in full",
                    line,
                    path or (),
                )
            if path is not None and line is not None:
                lines.setdefault(path, line)
            if isinstance(event, yaml.ScalarEvent):
                tag = event.tag
                if tag is None or tag == "!":
                    tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
                done = yaml.ScalarNode(tag, event.value, start, end, style=event.style)
            else:
                if len(opened) == MAX_DEPTH:
                    raise _too_deep(line, path or ())
                opened.append(_Open(_collection(loader, event), path))
                continue
        if not opened:
            return done
        _add(opened[-1], done, lines)


def _collection(loader: _Loader, event: Any) -> yaml.MappingNode | yaml.SequenceNode:
    kind = yaml.MappingNode if isinstance(event, yaml.MappingStartEvent) else yaml.SequenceNode
    tag = event.tag
    if tag is None or tag == "!":
        tag = loader.resolve(kind, None, event.implicit)
    return kind(tag, [], event.start_mark, None, flow_style=event.flow_style)


def _path_of_next(opened: list[_Open]) -> Path | None:
    if not opened:
        return ()
    parent = opened[-1]
    if parent.path is None:
        return None
    if isinstance(parent.node, yaml.SequenceNode):
        return (*parent.path, len(parent.node.value))
    return None if parent.key is None else parent.value_path


def _add(parent: _Open, node: yaml.Node, lines: dict[Path, int]) -> None:
    if isinstance(parent.node, yaml.SequenceNode):
        parent.node.value.append(node)
        return
    if parent.key is not None:
        parent.node.value.append((parent.key, node))
        parent.key = None
        return
    parent.key = node
    parent.value_path = None
    if parent.path is None or not isinstance(node, yaml.ScalarNode):
        return  # a list or mapping as a key fails later: it cannot be a dict key
    key = str(node.value)
    child = (*parent.path, key)
    line = _line(node.start_mark)
    if node.tag == "tag:yaml.org,2002:merge":
        # << copies another mapping's keys in, silently beside the ones written here.
        raise YamlProblem(
            "YAML merge keys (<<) are not allowed in Quanta's files: write the keys out",
            line,
            child,
        )
    if key in parent.keys:
        raise YamlProblem(f"key {key!r} appears twice: keep one", line, child)
    parent.keys.add(key)
    if line is not None:
        lines[child] = line
    parent.value_path = child


def _line(mark: Any) -> int | None:
    return None if mark is None else int(mark.line) + 1


def _shorten(text: str, longest: int = 40) -> str:
    return text if len(text) <= longest else f"{text[:longest]}..."


def _too_deep(line: int | None, path: Path) -> YamlProblem:
    return YamlProblem(
        f"mappings and lists are nested more than {MAX_DEPTH} levels deep here: "
        "flatten the document",
        line,
        path,
    )


def _too_large(size: int | None) -> YamlProblem:
    written = "" if size is None else f" {size:,} bytes,"
    return YamlProblem(
        f"the file is{written} over the limit of {MAX_FILE_BYTES:,} bytes (1 MiB) for "
        "Quanta's files: make it smaller",
        None,
        hint="product descriptors and contracts are short: split the file or trim it",
    )

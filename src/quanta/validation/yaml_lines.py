"""YAML documents that remember where each value was written."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]


class YamlProblem(Exception):
    def __init__(self, message: str, line: int | None, path: Path = ()) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.path = path


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


def load_located(text: str) -> LocatedYaml:
    """Parse one YAML document; raise YamlProblem with a line for malformed YAML."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        problem = error.problem or str(error)
        if error.context_mark is not None and error.context:
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
    located = LocatedYaml(data)
    if node is not None:
        _walk(node, (), located.lines)
    return located


def _walk(node: yaml.Node, path: Path, lines: dict[Path, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*path, key)
            if key in seen:
                raise YamlProblem(
                    f"key {key!r} appears twice: keep one", key_node.start_mark.line + 1, child
                )
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            _walk(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), lines)

"""A product's YAML file read into its model: every problem an issue at its line.

What pydantic says is wrong becomes an `Issue` with the file, line, field and value, and a
hint: a key that is not known names the closest known one.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from quanta.model.result import Issue
from quanta.validation.yaml_lines import LocatedYaml, YamlProblem, read_located

M = TypeVar("M", bound=BaseModel)


@dataclass
class YamlFile:
    """One YAML file of a product: where it is, how messages name it, and, once read, its
    content with the line of every part."""

    path: Path
    label: str
    located: LocatedYaml | None = None

    def issue(self, loc: tuple[str | int, ...], message: str, hint: str | None = None) -> Issue:
        line = self.located.line_of(loc) if self.located else None
        value = self.located.value_at(loc) if self.located else None
        if isinstance(value, dict | list):
            value = None
        return Issue(
            file=self.label,
            line=line,
            field=dotted(loc),
            value=value,
            message=message,
            hint=hint,
        )


def parse_model(file: YamlFile, model: type[M], issues: list[Issue]) -> M | None:
    if not file.path.is_file():
        issues.append(
            Issue(
                file=file.label,
                message="the file is missing",
                hint="create it (quanta init scaffolds a complete product folder)",
            )
        )
        return None
    try:
        file.located = read_located(file.path)
    except YamlProblem as problem:
        issues.append(
            Issue(
                file=file.label,
                line=problem.line,
                field=dotted(problem.path),
                message=problem.message,
                hint=problem.hint,
            )
        )
        return None
    except UnicodeDecodeError:
        issues.append(
            Issue(file=file.label, message="the file is not UTF-8 text", hint="save it as UTF-8")
        )
        return None
    if not isinstance(file.located.data, dict):
        issues.append(
            Issue(
                file=file.label,
                line=1,
                message="the document must be a mapping of keys",
                hint=f"start from the {model.__name__} example in the docs",
            )
        )
        return None
    try:
        return model.model_validate(file.located.data)
    except ValidationError as error:
        for detail in error.errors():
            issues.append(_pydantic_issue(file, model, detail))
        return None


def _pydantic_issue(file: YamlFile, model: type[BaseModel], detail: Any) -> Issue:
    loc = tuple(part for part in detail["loc"] if not str(part).startswith("function-after"))
    kind = detail["type"]
    if kind == "missing":
        return file.issue(loc, f"{loc[-1]!r} is required", f"add {loc[-1]!r} here")
    if kind == "extra_forbidden":
        known = _known_keys(model, loc[:-1], file)
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known keys here: {', '.join(known)}"
        return file.issue(loc, f"unknown key {loc[-1]!r}", hint)
    if kind == "literal_error":
        expected = detail.get("ctx", {}).get("expected", "")
        return file.issue(
            loc, f"value {detail.get('input')!r} is not allowed", f"use one of {expected}"
        )
    message = str(detail["msg"]).removeprefix("Value error, ")
    if kind == "value_error":
        # Quanta's own validators say "what is wrong: what to do".
        problem, _, todo = message.partition(": ")
        if todo:
            return file.issue(loc, problem, todo)
        return file.issue(loc, message, "correct the value on this line")
    return file.issue(loc, message, _hint_for(kind))


def _hint_for(kind: str) -> str | None:
    return {
        "string_type": "write it as a string (quote it)",
        "bool_type": "use true or false",
        "int_type": "use a whole number",
        "list_type": "write a list (lines starting with '- ')",
        "model_type": "write a mapping of keys",
        "dict_type": "write a mapping of keys",
        "string_pattern_mismatch": "use a semantic version such as 1.0.0",
        "too_short": "add at least one entry",
        "too_long": "Quanta reads one schema object per contract: give each port its own contract",
    }.get(kind)


def _known_keys(model: type[BaseModel], loc: tuple[str | int, ...], file: YamlFile) -> list[str]:
    """The keys a nested model at ``loc`` accepts, by walking the field annotations."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", {})
        match = next((f for name, f in fields.items() if (f.alias or name) == part), None)
        if match is None:
            return []
        current = _model_in(match.annotation)
    fields = getattr(current, "model_fields", {})
    return sorted((f.alias or name) for name, f in fields.items())


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def dotted(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text

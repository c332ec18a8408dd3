"""Run a product's transformation in an engine session and hand back one stream per port."""

from __future__ import annotations

import importlib.util
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quanta.build.files import OutsideFolder, inside
from quanta.build.sql_guard import check_sql
from quanta.model.product import DataProduct

if TYPE_CHECKING:
    from quanta.engines import Session


class TransformationFailed(Exception):
    """The product's own code could not run; the message says where and why."""


def code_file(product: DataProduct) -> Path:
    """The transformation's file, which must be a file inside the product folder."""
    try:
        return inside(Path(product.folder), product.transformation.path)
    except OutsideFolder as error:
        raise TransformationFailed(f"the transformation file {error}") from None


def sql_problems(product: DataProduct, visible: list[tuple[str, ...]]) -> list[str]:
    transformation = product.transformation
    try:
        path = code_file(product)
    except TransformationFailed as error:
        return [str(error)]
    if transformation.language != "sql":
        return []
    problems = check_sql(path.read_text(encoding="utf-8"), visible)
    return [
        f"{transformation.path}{f':{p.line}' if p.line else ''}: {p.message} ({p.hint})"
        for p in problems
    ]


def run(product: DataProduct, session: Session) -> dict[str, str]:
    """Run the product's code; return, per output port, the query that yields its rows."""
    transformation = product.transformation
    path = code_file(product)
    ports = [port.name for port in product.descriptor.output_ports]
    if transformation.language == "sql":
        return {ports[0]: path.read_text(encoding="utf-8")}
    function = _load_function(path, transformation.function)
    try:
        queries = session.run_python(function)
    except TransformationFailed:
        raise
    except (Exception, SystemExit) as error:
        # SystemExit too: a product's code must not end the platform's process.
        raise TransformationFailed(_where(error, path)) from error
    if set(queries) == {""} and len(ports) == 1:
        return {ports[0]: queries[""]}
    missing = sorted(set(ports) - set(queries))
    extra = sorted(set(queries) - set(ports))
    if missing or extra:
        raise TransformationFailed(
            f"{transformation.path}: {transformation.function}() must return one table per output "
            f"port ({', '.join(ports)}); missing: {missing or 'none'}, unknown: {extra or 'none'}"
        )
    return queries


def _load_function(path: Path, name: str) -> Callable[..., Any]:
    module_name = f"quanta_transformation_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise TransformationFailed(f"{path.name}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as error:
        raise TransformationFailed(_where(error, path)) from error
    finally:
        sys.modules.pop(module_name, None)
    function = getattr(module, name, None)
    if not callable(function):
        raise TransformationFailed(f"{path.name} defines no function {name}(inputs)")
    return function  # type: ignore[no-any-return]


def _where(error: BaseException, path: Path) -> str:
    """The error with the line of the product's own file where it happened."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == str(path)]
    where = f"{path.name}:{frames[-1].lineno}" if frames else path.name
    return f"{where}: {type(error).__name__}: {error}"

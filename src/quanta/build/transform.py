"""Run a product's transformation in an engine session and hand back one stream per port."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from quanta.build.files import OutsideFolder, inside
from quanta.build.sql_guard import check_sql
from quanta.engines import TransformationFailed
from quanta.model.product import DataProduct

if TYPE_CHECKING:
    from quanta.engines import Session

__all__ = ["TransformationFailed", "code_file", "run", "sql_problems"]


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
    # In a process of its own, which loads the file: whatever the code does (raise, exit,
    # crash) comes back as `TransformationFailed`, saying where and why.
    queries = session.run_python(path, transformation.function)
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

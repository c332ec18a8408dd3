"""Run a product's transformation in an engine session and hand back one stream per port.

The code is read once, from inside the product folder (`quanta.product_files`): what the
SQL guard checks is what runs, even if the file changes meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from quanta.build.returned import port_queries
from quanta.build.sql_guard import check_sql
from quanta.engines import TransformationFailed
from quanta.model.product import DataProduct
from quanta.product_files import OutsideFolder, read_inside

if TYPE_CHECKING:
    from quanta.engines import Session

__all__ = ["Code", "TransformationFailed", "output_queries", "read_code", "run", "sql_problems"]


@dataclass(frozen=True)
class Code:
    """A transformation as read: its file as declared, and its text."""

    filename: str
    text: str


def read_code(product: DataProduct) -> Code:
    """The transformation's code, read once from a file inside the product folder."""
    path = product.transformation.path
    try:
        return Code(path, read_inside(Path(product.folder), path))
    except OutsideFolder as error:
        raise TransformationFailed(f"the transformation file {error}") from None
    except UnicodeDecodeError:
        raise TransformationFailed(
            f"{path}: the file is not UTF-8 text (save it as UTF-8)"
        ) from None


def sql_problems(product: DataProduct, code: Code, visible: list[tuple[str, ...]]) -> list[str]:
    if product.transformation.language != "sql":
        return []
    return [
        f"{code.filename}{f':{p.line}' if p.line else ''}: {p.message} ({p.hint})"
        for p in check_sql(code.text, visible)
    ]


def run(product: DataProduct, code: Code, session: Session) -> dict[str, str]:
    """Run the product's code; return, per output port, the query that yields its rows."""
    transformation = product.transformation
    ports = [port.name for port in product.descriptor.output_ports]
    return output_queries(transformation.language, transformation.function, ports, code, session)


def output_queries(
    language: str, function: str, ports: list[str], code: Code, session: Session
) -> dict[str, str]:
    """Run ``code`` in ``session``; per port of ``ports``, the query that yields its rows."""
    if language == "sql":
        return {ports[0]: code.text}
    # In a process of its own: whatever the code does (raise, exit, crash) comes back as
    # `TransformationFailed`, saying where and why.
    queries = session.run_python(code.text, code.filename, function)
    return port_queries(queries, ports, code.filename, function, code.text)

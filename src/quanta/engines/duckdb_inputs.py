"""What a Python transformation is called with (`Inputs`), in the process it runs in."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pyarrow as pa

from quanta.engines.duckdb_refusals import refusals
from quanta.model.relations import Binding
from quanta.sql_text import quote


class UnknownInput(KeyError):
    """A Python transformation asked for an input its product does not declare. Its
    message names the input only when the product's code writes that name out (the name
    may be a value of the data): see `told`."""

    def __init__(self, name: str, names: list[str]) -> None:
        super().__init__(name)
        self.name, self.names = name, names

    def told(self, code: str) -> str:
        asked = repr(self.name) if self.name and self.name in code else "an input it asked for"
        return f"{asked} is not an input of this product: use one of {', '.join(self.names)}"

    def __str__(self) -> str:
        return self.told("")


class Inputs:
    """What a Python transformation receives: its declared inputs, and nothing else.

    ``inputs["orders"]`` is a DuckDB relation; ``inputs.sql("SELECT ...")`` runs SQL
    over them; ``inputs.arrow("orders")`` reads one input as an Arrow table.
    """

    def __init__(self, connection: duckdb.DuckDBPyConnection, bindings: Sequence[Binding]) -> None:
        self._connection = connection
        self._bindings = bindings
        self.names = sorted(".".join(name) for binding in bindings for name in binding.names)

    def __getitem__(self, name: str) -> duckdb.DuckDBPyRelation:
        if name not in self.names:
            raise UnknownInput(name, list(self.names))
        return self._connection.sql(f"SELECT * FROM {'.'.join(quote(p) for p in name.split('.'))}")

    def sql(self, query: str) -> duckdb.DuckDBPyRelation:
        with refusals(self._bindings, self._connection):
            return self._connection.sql(query)

    def arrow(self, name: str) -> pa.Table:
        return self[name].to_arrow_table()

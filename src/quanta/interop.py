"""Contracts in and out: ODCS v3 and the Data Contract Specification (DCS) to Quanta's
contracts, and Quanta's contracts out as ODCS v3.1.

Quanta reads one table per contract, so a document with several tables (ODCS schema
objects, DCS models) becomes one contract each. Whatever Quanta cannot carry over or
enforce is reported, each with where it was and why, instead of being dropped silently.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from quanta.errors import UserError
from quanta.model.contract import CLASSIFICATIONS, Contract
from quanta.model.names import name_problem
from quanta.quality.parsing import parse_rules as compile_contract

if TYPE_CHECKING:
    from quanta.validation.yaml_lines import LocatedYaml

ODCS_VERSION = "v3.1.0"


@dataclass(frozen=True)
class Unmapped:
    """A part of the imported document that Quanta does not carry over or cannot enforce."""

    where: str
    reason: str


@dataclass
class ContractImport:
    source_format: str
    contracts: dict[str, dict[str, Any]] = field(default_factory=dict)
    """One ODCS v3.1 document per table, by table name."""
    unmapped: list[Unmapped] = field(default_factory=list)
    places: dict[tuple[str, str | None, int], str] = field(default_factory=dict)
    """Where in the file each imported quality rule was written, where the import moved
    it (a DCS field's rules, after its ``enum``'s, or past a rule not carried over): by
    table, column (None: the table's own rules) and place in the imported list."""


def import_document(document: Any, *, together: bool = False) -> ContractImport:
    """Turn an ODCS v3 or DCS document into Quanta contracts; say what could not be kept.

    ``together``: the tables are checked side by side where their data lives (``quanta
    contract test``), so a SQL rule of one may read the others.
    """
    if not isinstance(document, dict):
        raise ValueError("the document is not a mapping: expected an ODCS or DCS contract")
    if "dataContractSpecification" in document:
        result = _from_dcs(document)
    elif str(document.get("apiVersion", "")).startswith("v3") or document.get("kind") == (
        "DataContract"
    ):
        result = _from_odcs(document)
    else:
        raise ValueError(
            "not a contract Quanta can import: expected ODCS v3 (apiVersion: v3.x) or the Data "
            "Contract Specification (dataContractSpecification: 1.x)"
        )
    for name, contract in result.contracts.items():
        others = frozenset(result.contracts) - {name} if together else frozenset()
        _check(name, contract, result, others)
    return result


def export_document(contract: Contract) -> dict[str, Any]:
    """A Quanta contract as an ODCS v3.1 document."""
    heading = {
        "apiVersion": ODCS_VERSION,
        "kind": "DataContract",
        "id": contract.id,
        "version": contract.version,
        "status": contract.status,
    }
    return {**heading, **{k: v for k, v in contract.to_document().items() if k not in heading}}


def _check(
    name: str, contract: dict[str, Any], result: ContractImport, tables: frozenset[str]
) -> None:
    """Every rule that will not run in Quanta is reported against its table."""
    try:
        parsed = Contract.model_validate(contract)
    except ValidationError as error:
        for detail in error.errors():
            where = ".".join(str(part) for part in detail["loc"])
            result.unmapped.append(Unmapped(f"{name}: {where}", detail["msg"]))
        return
    for problem in compile_contract(parsed, tables=tables).problems:
        where = ".".join(str(part) for part in problem.loc)
        result.unmapped.append(Unmapped(f"{name}: {where}", problem.message))


# -- ODCS ------------------------------------------------------------------------------


def _from_odcs(document: dict[str, Any]) -> ContractImport:
    result = ContractImport("odcs")
    objects = document.get("schema") or []
    keep = {k: v for k, v in document.items() if k not in ("schema", "apiVersion")}
    for key in ("servers", "roles", "price", "support"):
        if key in keep:
            result.unmapped.append(Unmapped(key, "kept as written; Quanta does not use it"))
    if not isinstance(objects, list):
        raise ValueError("schema must be a list of tables")
    for level in keep.get("slaProperties") or []:
        if isinstance(level, dict) and level.get("property") not in (
            "freshness",
            "completeness",
            "retention",
        ):
            result.unmapped.append(
                Unmapped(
                    f"slaProperties.{level.get('property')}",
                    "kept as written; Quanta does not measure it",
                )
            )
    for index, table in enumerate(objects):
        name = str(table.get("name") or f"table_{index}")
        if name in result.contracts:
            raise ValueError(f"two tables are named {name!r}: give each its own name")
        if table.get("relationships"):
            result.unmapped.append(
                Unmapped(
                    f"{name}: relationships",
                    "relationships between "
                    "tables are kept but not checked; declare them on "
                    "a column",
                )
            )
        table = _classified(_rows_named(table, name), name, result)
        contract = {**keep, "apiVersion": ODCS_VERSION, "schema": [table]}
        if len(objects) > 1:
            contract["id"] = f"{document.get('id', 'contract')}.{name}"
            levels = keep.get("slaProperties")
            if isinstance(levels, list):
                contract["slaProperties"] = [
                    level for level in levels if _concerns(level, name, objects)
                ]
        contract.setdefault("kind", "DataContract")
        contract.setdefault("status", "active")
        contract.setdefault("version", "1.0.0")
        result.contracts[name] = contract
    if not objects:
        result.unmapped.append(Unmapped("schema", "the contract declares no table"))
    return result


def _rows_named(table: dict[str, Any], name: str) -> dict[str, Any]:
    """The schema object with each SQL rule reading ``${table}`` where it names the object
    (``FROM orders``), as other tools accept them."""

    def renamed(rules: Any) -> Any:
        if not isinstance(rules, list):
            return rules
        return [
            {**rule, "query": _name_rows(rule["query"], name)}
            if isinstance(rule, dict) and isinstance(rule.get("query"), str)
            else rule
            for rule in rules
        ]

    found = (
        {**table, "quality": renamed(table.get("quality"))} if "quality" in table else dict(table)
    )
    properties = table.get("properties")
    if isinstance(properties, list):
        found["properties"] = [
            {**item, "quality": renamed(item["quality"])}
            if isinstance(item, dict) and "quality" in item
            else item
            for item in properties
        ]
    return found


def _classified(table: dict[str, Any], name: str, result: ContractImport) -> dict[str, Any]:
    """The schema object with each column's classification as a level Quanta knows."""
    properties = table.get("properties")
    if not isinstance(properties, list):
        return table
    kept = []
    for index, item in enumerate(properties):
        if isinstance(item, dict) and item.get("classification") not in (None, ""):
            where = f"{name}: properties.{index}"
            item = {
                **item,
                "classification": _classification(item["classification"], where, result),
            }
        kept.append(item)
    return {**table, "properties": kept}


# -- the Data Contract Specification --------------------------------------------------

DCS_TYPES = {
    "string": ("string", "VARCHAR"),
    "text": ("string", "VARCHAR"),
    "varchar": ("string", "VARCHAR"),
    "number": ("number", "DOUBLE"),
    "decimal": ("number", "DECIMAL"),
    "numeric": ("number", "DECIMAL"),
    "float": ("number", "FLOAT"),
    "double": ("number", "DOUBLE"),
    "int": ("integer", "INTEGER"),
    "integer": ("integer", "INTEGER"),
    "long": ("integer", "BIGINT"),
    "bigint": ("integer", "BIGINT"),
    "boolean": ("boolean", "BOOLEAN"),
    # Plain `timestamp` says nothing of a time zone: the data's own kind of timestamp holds.
    "timestamp": ("timestamp", None),
    "timestamp_tz": ("timestamp", "TIMESTAMP WITH TIME ZONE"),
    "timestamp_ntz": ("timestamp", "TIMESTAMP"),
    "date": ("date", "DATE"),
    "time": ("time", "TIME"),
    "bytes": ("string", "BLOB"),
}
# A sensitive field keeps its values protected (restricted), rather than merely labelled.
DCS_CLASSIFICATIONS = {"sensitive": "restricted", "secret": "restricted"}
DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$")


def _classification(written: Any, where: str, result: ContractImport) -> str:
    """The level Quanta keeps for a classification as written: the same in any case
    (``PII``), a known synonym (``sensitive``), or else ``restricted``: a column someone
    classified is never sampled or shown until its owners choose a level."""
    level = str(written).strip().lower()
    kept = DCS_CLASSIFICATIONS.get(level, level)
    if kept not in CLASSIFICATIONS:
        kept = "restricted"
        why = f"classification {written!r} is not a level Quanta knows: kept as 'restricted'"
    else:
        why = f"classification {written!r} is kept as {kept!r}"
    if kept != level:
        result.unmapped.append(Unmapped(f"{where}.classification", why))
    return kept


def _concerns(level: Any, name: str, objects: list[Any]) -> bool:
    """Whether a service level of a contract with several tables is ``name``'s: its
    element names that table (``orders.created_at``), or no table of the contract."""
    element = str(level.get("element") or "") if isinstance(level, dict) else ""
    table = element.split(".", 1)[0] if "." in element else None
    names = {str(item.get("name")) for item in objects if isinstance(item, dict)}
    return table is None or table == name or table not in names


def _from_dcs(document: dict[str, Any]) -> ContractImport:
    result = ContractImport("dcs")
    info = document.get("info") or {}
    definitions = document.get("definitions") or {}
    for key in ("servers", "terms", "links", "tags"):
        if key in document:
            result.unmapped.append(Unmapped(key, "Quanta keeps no such part in a contract"))
    levels = _dcs_service_levels(document.get("servicelevels") or {}, result)
    for name, model in (document.get("models") or {}).items():
        columns = []
        primary = list(model.get("primaryKey") or [])
        for column_name, spec in (model.get("fields") or {}).items():
            merged = _resolve(spec, definitions, f"models.{name}.fields.{column_name}", result)
            columns.append(_dcs_field(name, column_name, merged, primary, result))
        table: dict[str, Any] = {
            "name": name,
            "physicalType": model.get("type", "table"),
            "properties": columns,
        }
        if model.get("description"):
            table["description"] = model["description"]
        quality: list[dict[str, Any]] = []
        _dcs_rules(model.get("quality"), (name, None), f"models.{name}.quality", quality, result)
        if quality:
            table["quality"] = quality
        contract: dict[str, Any] = {
            "apiVersion": ODCS_VERSION,
            "kind": "DataContract",
            "id": f"{document.get('id', 'contract')}.{name}",
            "name": name,
            "version": str(info.get("version", "1.0.0")),
            "status": str(info.get("status", "active")),
            "schema": [table],
        }
        if info.get("description"):
            contract["description"] = {"purpose": str(info["description"]).strip()}
        owned = [
            level
            for level in levels
            if level.get("element", name).split(".")[0] == name or "element" not in level
        ]
        if owned:
            contract["slaProperties"] = owned
        result.contracts[name] = contract
    return result


def _resolve(
    spec: dict[str, Any], definitions: dict[str, Any], where: str, result: ContractImport
) -> dict[str, Any]:
    reference = spec.get("$ref")
    if not reference:
        return spec
    name = str(reference).rsplit("/", 1)[-1]
    if str(reference).startswith("#/definitions/") and name in definitions:
        return {**definitions[name], **{k: v for k, v in spec.items() if k != "$ref"}}
    result.unmapped.append(
        Unmapped(where, f"the reference {reference!r} cannot be resolved from this file")
    )
    return {k: v for k, v in spec.items() if k != "$ref"}


def _dcs_field(
    model: str, name: str, spec: dict[str, Any], key: list[str], result: ContractImport
) -> dict[str, Any]:
    where = f"models.{model}.fields.{name}"
    kind = str(spec.get("type", "string")).lower()
    logical, physical = DCS_TYPES.get(kind, ("string", "VARCHAR"))
    if kind not in DCS_TYPES:
        result.unmapped.append(
            Unmapped(
                f"{where}.type", f"type {kind!r} has no storable equivalent: imported as a string"
            )
        )
    column: dict[str, Any] = {"name": name, "logicalType": logical}
    if physical is not None:
        column["physicalType"] = physical
    if kind in ("decimal", "numeric") and spec.get("precision"):
        column["physicalType"] = f"DECIMAL({spec['precision']},{spec.get('scale', 0)})"
    for source, target in (
        ("description", "description"),
        ("required", "required"),
        ("unique", "unique"),
        ("examples", "examples"),
        ("tags", "tags"),
    ):
        if source in spec:
            column[target] = spec[source]
    if spec.get("primaryKey") or spec.get("primary") or name in key:
        column["primaryKey"] = True
        if name in key:
            column["primaryKeyPosition"] = key.index(name) + 1
    classification = "pii" if spec.get("pii") else spec.get("classification")
    if classification:
        column["classification"] = _classification(classification, where, result)
    options = {
        target: spec[source]
        for source, target in (
            ("pattern", "pattern"),
            ("minimum", "minimum"),
            ("maximum", "maximum"),
            ("exclusiveMinimum", "exclusiveMinimum"),
            ("exclusiveMaximum", "exclusiveMaximum"),
            ("minLength", "minLength"),
            ("maxLength", "maxLength"),
        )
        if source in spec
    }
    if options:
        column["logicalTypeOptions"] = options
    quality: list[dict[str, Any]] = []
    if spec.get("enum"):
        result.places[model, name, len(quality)] = f"{where}.enum"
        quality.append(
            {"metric": "invalidValues", "arguments": {"validValues": spec["enum"]}, "mustBe": 0}
        )
    _dcs_rules(spec.get("quality"), (model, name), f"{where}.quality", quality, result)
    if quality:
        column["quality"] = quality
    if spec.get("references"):
        column["relationships"] = [{"type": "foreignKey", "to": spec["references"]}]
        result.unmapped.append(
            Unmapped(
                f"{where}.references",
                "checked only once its table "
                "is an input port of the product: name the port in "
                "relationships[].to",
            )
        )
    for ignored in ("format", "lineage", "config", "links"):
        if ignored in spec:
            result.unmapped.append(Unmapped(f"{where}.{ignored}", "not carried over"))
    return column


def _dcs_rules(
    rules: Any,
    owner: tuple[str, str | None],
    where: str,
    quality: list[dict[str, Any]],
    result: ContractImport,
) -> None:
    """A DCS quality list's rules appended to ``quality``, each one's place in the file
    kept (`ContractImport.places`): a rule not carried over moves the next ones up."""
    for written, rule in enumerate(rules or []):
        kept = _dcs_quality(rule, owner[0], where, result)
        if kept:
            result.places[(*owner, len(quality))] = f"{where}.{written}"
            quality.append(kept)


def _dcs_quality(
    spec: dict[str, Any], model: str, where: str, result: ContractImport
) -> dict[str, Any] | None:
    kind = spec.get("type", "sql")
    if kind == "text":
        return {k: v for k, v in spec.items() if k in ("type", "description", "name")}
    if kind == "library":  # a metric (rowCount, duplicateValues, ...), as ODCS writes one
        return {key: value for key, value in spec.items() if key != "type"}
    if kind != "sql":
        result.unmapped.append(Unmapped(where, f"quality of type {kind!r} is not carried over"))
        return None
    rule = dict(spec)
    rule["query"] = _name_rows(str(spec.get("query", "")), model)
    return rule


def _name_rows(query: str, model: str) -> str:
    """Other tools' SQL rules name the table (``FROM orders``); Quanta's name the port's
    rows ``${table}``.

    Only table references are renamed, never a string or a column that reads the same.
    """
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError

    # sqlglot warns about syntax it does not know on stderr, which is the user's terminal:
    # the rule is checked by the SQL guard at validate anyway.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    try:
        tree = sqlglot.parse_one(query, dialect="duckdb")
    except ParseError:
        return query
    named = [t for t in tree.find_all(exp.Table) if t.name == model and not t.db]
    if not named:
        return query  # as written: regenerating it could change what it says
    marker = "quanta_rows_of_this_port"
    for table in named:
        table.set("this", exp.to_identifier(marker))
    return tree.sql(dialect="duckdb").replace(marker, "${table}")


def _dcs_service_levels(levels: dict[str, Any], result: ContractImport) -> list[dict[str, Any]]:
    converted = []
    freshness = levels.get("freshness") or {}
    if freshness:
        match = DURATION.match(str(freshness.get("threshold", "")))
        element = freshness.get("timestampField")
        if match and element:
            value, unit = float(match.group(1)), match.group(2).lower()
            unit = {"m": "min", "hr": "h"}.get(unit, unit)
            converted.append(
                {
                    "property": "freshness",
                    "value": int(value) if value.is_integer() else value,
                    "unit": unit,
                    "element": element,
                }
            )
        else:
            result.unmapped.append(
                Unmapped(
                    "servicelevels.freshness", "needs a threshold such as 25h and a timestampField"
                )
            )
    retention = levels.get("retention") or {}
    if retention.get("period"):
        converted.append({"property": "retention", "value": str(retention["period"])})
    for key in sorted(set(levels) - {"freshness", "retention"}):
        result.unmapped.append(Unmapped(f"servicelevels.{key}", "not measured by Quanta"))
    return converted


def read_contract_file(
    source: Path, *, together: bool = False
) -> tuple[LocatedYaml, ContractImport]:
    """An ODCS v3 or DCS file as written (with its lines), and as Quanta contracts, one per
    table (named as a table may be); a clear error for a file that is neither.
    ``together``: see `quanta.interop.import_document`."""
    from quanta.validation.yaml_lines import YamlProblem, read_located

    try:
        document = read_located(source)
        result = import_document(document.data, together=together)
    except (AttributeError, TypeError, KeyError) as error:
        raise UserError(
            f"{source} is not a contract Quanta can read: a part has an unexpected shape ({error})"
        ) from None
    except OSError as error:
        raise UserError(f"cannot read {source}: {error.strerror}") from None
    except YamlProblem as problem:
        line = "" if problem.line is None else f"line {problem.line}: "
        raise UserError(f"{source}: {line}{problem.message}") from None
    except ValueError as error:
        raise UserError(f"{source}: {error}") from None
    for name in result.contracts:
        # The table names the file: '../../x' must not write outside the folder.
        refused = name_problem(str(name), "table name")
        if refused:
            raise UserError(f"{source}: {refused}")
    return document, result

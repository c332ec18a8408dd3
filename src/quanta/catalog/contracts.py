"""Contracts in and out of the mesh: import ODCS v3 or DCS files as Quanta contracts,
export a published port's contract as ODCS v3.1."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from quanta.errors import UserError
from quanta.model.contract import Contract
from quanta.model.names import name_problem
from quanta.reading.ports import port_at
from quanta.stores import CatalogStore

if TYPE_CHECKING:
    from quanta.interop import ContractImport
    from quanta.validation.yaml_lines import LocatedYaml


def import_contract(path: str | Path, out: str | Path) -> tuple[ContractImport, list[Path]]:
    """Convert an ODCS v3 or DCS file into Quanta contracts, one file per table in ``out``.

    Nothing is written when a target file exists already.
    """
    import yaml

    _, result = read_contract_file(Path(path))
    folder = Path(out)
    targets = {name: folder / f"{name}.odcs.yaml" for name in result.contracts}
    existing = [str(t) for t in targets.values() if t.exists() or t.is_symlink()]
    if existing:
        raise UserError(f"{', '.join(existing)} exists already: remove it or choose --out")
    folder.mkdir(parents=True, exist_ok=True)
    for name, target in targets.items():
        text = yaml.safe_dump(result.contracts[name], sort_keys=False, allow_unicode=True)
        try:
            # Created, never opened: no file, and no link to one, is written through.
            with target.open("x", encoding="utf-8") as file:
                file.write(text)
        except FileExistsError:
            raise UserError(f"{target} exists already: remove it or choose --out") from None
    return result, list(targets.values())


def read_contract_file(
    source: Path, *, together: bool = False
) -> tuple[LocatedYaml, ContractImport]:
    """An ODCS v3 or DCS file as written (with its lines), and as Quanta contracts, one per
    table (named as a table may be); a clear error for a file that is neither.
    ``together``: see `quanta.interop.import_document`."""
    from quanta.interop import import_document
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


def export_contract(
    store: CatalogStore, address: str, version: int | None = None
) -> dict[str, Any]:
    """An output port's contract, as published, in ODCS v3.1."""
    from quanta.interop import export_document

    port = port_at(store, address, version).port
    return export_document(Contract.model_validate(port.contract))

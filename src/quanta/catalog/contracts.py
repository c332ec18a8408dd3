"""Contracts in and out of the mesh: import ODCS v3 or DCS files as Quanta contracts,
export a published port's contract as ODCS v3.1."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from quanta.errors import UserError
from quanta.model.contract import Contract
from quanta.reading.ports import port_at
from quanta.stores import CatalogStore

if TYPE_CHECKING:
    from quanta.interop import ContractImport


def import_contract(path: str | Path, out: str | Path) -> tuple[ContractImport, list[Path]]:
    """Convert an ODCS v3 or DCS file into Quanta contracts, one file per table in ``out``.

    Nothing is written when a target file exists already.
    """
    import yaml

    from quanta.interop import read_contract_file

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


def export_contract(
    store: CatalogStore, address: str, version: int | None = None
) -> dict[str, Any]:
    """An output port's contract, as published, in ODCS v3.1."""
    from quanta.interop import export_document

    port = port_at(store, address, version).port
    return export_document(Contract.model_validate(port.contract))

"""Turn a product's input ports into what its build reads: source files, and published
ports that the read path (`quanta.reading`) binds as the product reads them."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from quanta.model.catalog import InputUse
from quanta.model.product import DataProduct
from quanta.model.relations import Binding, FileScan
from quanta.product_files import OutsideFolder, source_files
from quanta.reading import PublishedPort
from quanta.stores import CatalogStore


@dataclass
class ResolvedInputs:
    sources: list[Binding] = field(default_factory=list)
    """The source input ports' files, bound under the ports' names."""
    upstream: list[PublishedPort] = field(default_factory=list)
    """The other products' ports the input ports read, at the versions they pin."""
    uses: list[InputUse] = field(default_factory=list)
    problems: list[tuple[int, str, str]] = field(default_factory=list)
    """(input port index, message, hint) for each port that cannot be read."""

    @property
    def names(self) -> list[tuple[str, ...]]:
        return [name for binding in self.sources for name in binding.names] + [
            name for port in self.upstream for name in port.names
        ]


def resolve_inputs(product: DataProduct, store: CatalogStore) -> ResolvedInputs:
    resolved = ResolvedInputs()
    folder = Path(product.folder)
    for index, port in enumerate(product.descriptor.input_ports):
        source = port.source
        if source is not None:
            try:
                files = source_files(folder, source.path)
            except OutsideFolder as error:
                resolved.problems.append((index, f"source {error.problem}", error.todo))
                continue
            scan = FileScan(
                tuple(str(path) for path in files),
                source.file_format,
                source.options,
                label=source.path,
                root=str(folder.resolve()),
            )
            resolved.sources.append(Binding(((port.name,),), scan))
            resolved.uses.append(InputUse(port=port.name, source=source.path))
            continue
        address = port.upstream
        assert address is not None, "a port without source names an upstream port"
        upstream_id = str(address.product)
        record = store.product(upstream_id)
        if record is None:
            known = [p.id for p in store.products()]
            close = difflib.get_close_matches(upstream_id, known, n=1)
            hint = (
                f"did you mean {close[0]!r}?"
                if close
                else "publish that product first, or correct the name"
            )
            resolved.problems.append((index, f"no product {upstream_id!r} is published", hint))
            continue
        current = store.version(upstream_id)
        assert current is not None, "a product in the catalog has a served version"
        port_name = address.port
        if port_name is None:
            if len(current.ports) != 1:
                offered = ", ".join(p.port for p in current.ports)
                resolved.problems.append(
                    (
                        index,
                        f"{upstream_id} has several output ports ({offered})",
                        f"name one: {upstream_id}.<port>",
                    )
                )
                continue
            port_name = current.ports[0].port
        version = store.latest_with_major(upstream_id, port_name, port.major)
        if version is None or version.port(port_name) is None:
            available = sorted(
                {f"{p.port} v{p.major}" for v in store.versions(upstream_id) for p in v.ports}
            )
            resolved.problems.append(
                (
                    index,
                    f"{upstream_id} publishes no port {port_name!r} at major version {port.major}",
                    f"it offers: {', '.join(available) or 'nothing yet'}",
                )
            )
            continue
        published = version.port(port_name)
        assert published is not None
        names: list[tuple[str, ...]] = [
            (port.name,),
            (address.product.domain, address.product.name, port_name),
        ]
        if len(current.ports) == 1:
            names.append((address.product.domain, address.product.name))
        resolved.upstream.append(
            PublishedPort(upstream_id, version.version, published, tuple(dict.fromkeys(names)))
        )
        resolved.uses.append(
            InputUse(
                port=port.name,
                upstream=upstream_id,
                upstream_port=port_name,
                upstream_version=version.version,
            )
        )
    return resolved

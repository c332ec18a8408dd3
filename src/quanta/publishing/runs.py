"""A publish's build as a `BuildRun` for lineage: what it read, wrote, derived and checked."""

from __future__ import annotations

from quanta.events import BuildRun, LineageDataset
from quanta.publishing.pipeline import PublishContext


def dataset_name(product: str, port: str, major: int) -> str:
    """``checkout.orders.orders.v1``: a port at one major version (each its own table)."""
    return f"{product}.{port}.v{major}"


def build_run(context: PublishContext, state: str) -> BuildRun:
    product = context.product
    inputs: list[LineageDataset] = []
    names: dict[str, str] = {}  # a name the code reads an input by: its dataset
    if context.inputs is not None:
        for port in context.inputs.upstream:
            name = dataset_name(port.product, port.port.port, port.port.major)
            columns = tuple((c.name, c.type) for c in port.port.columns)
            inputs.append(LineageDataset(name=name, version=port.version, columns=columns))
            for spelled in port.names:
                names[".".join(spelled)] = name
        for binding in context.inputs.sources:
            paths = getattr(binding.relation, "paths", ())
            for path in paths:
                inputs.append(LineageDataset(name=str(path), file=True))
            for spelled in binding.names:
                names[".".join(spelled)] = str(paths[0]) if paths else ".".join(spelled)
    outputs = []
    for output, contract in (context.contracts or product.contracts).items():
        columns = tuple((c.name, c.physical_type or c.logical_type or "") for c in contract.columns)
        outputs.append(
            LineageDataset(
                name=dataset_name(context.product_id, output, contract.major),
                version=context.version,
                columns=columns,
            )
        )
    return BuildRun(
        subject=context.product_id,
        actor=context.actor,
        run=context.run,
        state=state,
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        derived=_derived(context, names) if state == "COMPLETE" else (),
        assertions=_assertions(context) if state != "START" else (),
        step=context.step if state == "FAIL" else "",
    )


def _derived(
    context: PublishContext, names: dict[str, str]
) -> tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...]:
    """Per output column of a SQL transformation, the input columns it derives from."""
    product = context.product
    if product.transformation.language != "sql" or context.code is None or context.inputs is None:
        return ()
    from quanta.build.lineage import column_sources

    columns: dict[str, list[str]] = {}
    for read in context.inputs.upstream:
        for spelled in read.names:
            columns[".".join(spelled)] = [c.name for c in read.port.columns]
    (port, contract), *_ = product.contracts.items()
    sources = column_sources(context.code.text, columns)
    output = dataset_name(context.product_id, port, contract.major)
    found = []
    for column in contract.columns:
        derived = sorted(
            {(names.get(name, name), field) for name, field in sources.of(column.name)}
        )
        if derived:
            found.append((output, column.name, tuple(derived)))
    return tuple(found)


def _assertions(context: PublishContext) -> tuple[tuple[str, str, str | None, bool], ...]:
    contracts = context.contracts or context.product.contracts
    found = []
    for check in context.checks:
        contract = contracts.get(check.port)
        if contract is None:
            continue
        output = dataset_name(context.product_id, check.port, contract.major)
        column = check.columns[0] if len(check.columns) == 1 else None
        found.append((output, check.name, column, check.outcome.ok))
    return tuple(found)

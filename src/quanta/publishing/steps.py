"""The steps of a publish, in the order `PUBLISH_STEPS` runs them; each a plain function of
the `PublishContext`. A dev build (``quanta build``) runs `BUILD_STEPS`."""

from __future__ import annotations

import json
import re
import time

from quanta.build import transform
from quanta.build.executor import BuildRequest, OutputTable, broken
from quanta.build.inputs import resolve_inputs
from quanta.errors import PlatformError, QuantaError
from quanta.events import ChangeBlocked, ChangeProposed, PolicyViolated, PortServed
from quanta.model.contract import PLATFORM_PREFIX, Contract
from quanta.model.expectations import Expectation
from quanta.model.product import DataProduct
from quanta.model.relations import Binding, Exposed
from quanta.model.result import Outcome, Trigger
from quanta.model.usage import ReadKind
from quanta.publishing.pipeline import PublishContext, Step
from quanta.publishing.records import records
from quanta.publishing.recovery import reconcile
from quanta.quality import conformance
from quanta.quality.checking import checks_run
from quanta.quality.scanning import Checked, check_ports, relation_name
from quanta.sql_text import quote
from quanta.storage import StagedTable, port_table


def validate(context: PublishContext) -> None:
    """Only a product that validates, and whose inputs in the batch published, goes on."""
    if context.validation.issues:
        context.stop(Outcome.FAILED, "the product does not validate")
    elif context.blocked:
        context.stop(
            Outcome.SKIPPED, f"it reads {', '.join(context.blocked)}, which did not publish"
        )


def govern(context: PublishContext) -> None:
    """The federation's policies: an enforced ``block`` policy that fails stops the
    publish with its reason and fix; the others are told (a grace period with its day)."""
    from quanta.governance import said

    findings = context.validation.findings
    context.mesh.governance.evaluated(context.product_id, context.actor, findings)
    for finding in findings:
        if finding.warns:
            context.told(said(finding))
        if finding.warns or finding.blocks:
            context.mesh.events.emit(
                PolicyViolated(
                    subject=context.product_id,
                    actor=context.actor,
                    policy=finding.policy,
                    severity=finding.severity.value,
                    state=finding.state.value,
                    blocks=finding.blocks,
                    failing=finding.failing,
                )
            )
    blocked = [finding for finding in findings if finding.blocks]
    if blocked:
        context.stop(
            Outcome.FAILED,
            "a policy of the mesh blocks it: " + "; ".join(said(finding) for finding in blocked),
        )


def compare(context: PublishContext) -> None:
    """The proposed contracts against the served ones: a breaking change that touches what
    a consumer relies on stops the publish, naming them; one that touches nobody's is said."""
    from quanta.lifecycle.impact import blocked_reason, impact, warnings

    found = impact(context.mesh.stores.catalog, context.product)
    for warning in warnings(found):
        context.told(warning)
    if found.unheld and not found.broken:
        context.mesh.events.emit(
            ChangeProposed(
                subject=context.product_id,
                actor=context.actor,
                changes=tuple(dict.fromkeys(change.what for _, change in found.unheld)),
            )
        )
    if found.broken:
        context.stop(Outcome.FAILED, blocked_reason(found))
        context.mesh.events.emit(
            ChangeBlocked(
                subject=context.product_id,
                actor=context.actor,
                consumers=tuple(sorted({broken.consumer.product for _, broken in found.broken})),
                changes=tuple(
                    dict.fromkeys(c.what for _, broken in found.broken for c in broken.changes)
                ),
            )
        )


def recover(context: PublishContext) -> None:
    reconcile(context.mesh, context.product)


def resolve(context: PublishContext) -> None:
    """The inputs at the versions the product pins, and its code, read once and checked."""
    context.started_build()
    product = context.product
    context.inputs = inputs = resolve_inputs(product, context.mesh.stores.catalog)
    if inputs.problems:
        context.fail_build("; ".join(f"{message} ({hint})" for _, message, hint in inputs.problems))
        return
    try:
        context.code = code = transform.read_code(product)
    except transform.TransformationFailed as error:
        context.fail_build(str(error))
        return
    problems = transform.sql_problems(product, code, inputs.names)
    if problems:
        context.fail_build("; ".join(problems))
        return
    from quanta.lifecycle.reliance import relied_on, with_reliance

    with_reliance(inputs.uses, relied_on(product, code.text, inputs.upstream))
    if not _upstream_ready(context):
        return
    if context.branch != "dev":  # a publish's build: its run starts (lineage)
        from quanta.publishing.runs import build_run

        context.started_run = True
        context.mesh.events.emit(build_run(context, "START"))
    if product.transformation.language == "sql" and inputs.upstream:
        from quanta.privacy.joins import join_warnings

        for warning in join_warnings(context.mesh, code.text, inputs.upstream):
            line = f" (line {warning.line})" if warning.line else ""
            context.told(f"warning: {code.filename}{line}: {warning.message}: {warning.hint}")


def _upstream_ready(context: PublishContext) -> bool:
    """Tell what the inputs' lifecycle says (deprecated: until when, and what instead),
    and refuse expectations of an input port that cannot run on what it reads."""
    from quanta.lifecycle.expectations import problems

    assert context.inputs is not None
    upstream = context.inputs.upstream
    for port in upstream:
        found = context.mesh.lifecycle.state(port.product, port.port.port, port.port.major)
        if found is not None:
            context.told(f"warning: {found.said()}")
    declared = {port.name: port.expects for port in context.product.descriptor.input_ports}
    for port in upstream:
        rules = declared.get(port.names[0][0])
        if not rules:
            continue
        wrong = problems(Contract.model_validate(port.port.contract), rules, context.product_id)
        if wrong:
            context.fail_build(
                f"what input port {port.names[0][0]} expects of {port.address} cannot run: "
                + "; ".join(wrong)
            )
            return False
    return True


def input_bindings(
    context: PublishContext, purpose: str, named_in: str | None = None
) -> list[Binding]:
    """The product's inputs as its build or its checks read them: as the product itself.

    With ``named_in``, only the inputs that text names (a rule can read no other): the
    checks' session then binds, and sniffs, no source file that no rule reads.
    """
    assert context.inputs is not None, "the inputs are resolved before they are read"
    sources, upstream = context.inputs.sources, context.inputs.upstream
    if named_in is not None:
        words = set(re.findall(r"[^\W\d]\w*", named_in.lower()))
        sources = [b for b in sources if any(n[-1].lower() in words for n in b.names)]
        upstream = [p for p in upstream if any(n[-1].lower() in words for n in p.names)]
    actor = context.mesh.access.reader(context.product, purpose)
    return [*sources, *context.mesh.reads.bind(actor, upstream)]


def build(context: PublishContext) -> None:
    """Run the transformation through the executor into staged snapshots on the branch."""
    assert context.inputs is not None
    assert context.code is not None
    product = context.product
    uses = context.inputs.uses
    context.told("reading " + ", ".join(u.upstream or u.source or u.port for u in uses))
    context.contracts = _inherited(context)
    context.encrypted = {
        port: context.mesh.governance.encrypted(contract)
        for port, contract in context.contracts.items()
    }
    outputs = []
    for port, contract in context.contracts.items():
        table = port_table(product.id, port, contract.major)
        location = context.mesh.storage.location(table)
        outputs.append(
            OutputTable(
                port=port,
                table=table,
                location=location,
                contract=contract.to_document(),
                scopes=context.scopes.get(port, {}),
            )
        )
    try:
        bindings = input_bindings(context, "build")
    except QuantaError as error:
        context.fail_build(str(error))
        return
    request = BuildRequest(
        product=context.product_id,
        language=product.transformation.language,
        filename=context.code.filename,
        function=product.transformation.function,
        code=context.code.text,
        bindings=bindings,
        outputs=outputs,
        branch=context.branch,
        limits=context.mesh.build_limits("the build"),
        declared=product.descriptor.build_limits,
    )
    result = context.mesh.executor.run(request, context.told)
    context.staged = result.staged
    context.schema_checked = result.schema_checked
    context.checks.extend(result.checks)
    if not result.build.outcome.ok:
        context.fail_build(result.build.reason, result.build.outcome)
        return
    context.started_build().ports = result.build.ports
    _served_inputs(context)


def _inherited(context: PublishContext) -> dict[str, Contract]:
    """The product's contracts with each column at least as strictly classified as the
    input columns it derives from: as the catalog records and the read path protects it;
    and the scope of each private column's pseudonyms (`quanta.governance.inherit`)."""
    from quanta.governance.inherit import inherited, raised

    assert context.inputs is not None
    assert context.code is not None
    product = context.product
    actor = context.mesh.access.reader(product, "build")
    found = inherited(
        context.product_id,
        product.transformation.language,
        context.code.text,
        product.contracts,
        context.inputs.upstream,
        lambda port: context.mesh.access.clear_for(actor, port.product, port.port.port),
        context.mesh.governance.rules.config.shared_scope,
    )
    for port, columns in found.levels.items():
        for column, (level, origin) in columns.items():
            context.told(f"column {port}.{column} is {level} as {origin} is: protected as that")
    context.scopes = found.scopes
    context.copies = found.identifiers
    context.pseudonyms = found.pseudonyms
    return {port: raised(c, found.levels.get(port, {})) for port, c in product.contracts.items()}


def _served_inputs(context: PublishContext) -> None:
    """Tell each input product's port as served to the product: a build is its use."""
    assert context.inputs is not None
    actor = context.mesh.access.reader(context.product, "build")
    for port in context.inputs.upstream:
        context.mesh.events.emit(
            PortServed(
                subject=port.product,
                actor=actor,
                port=port.port.port,
                version=port.version,
                read=ReadKind.BUILD,
                rows=port.port.rows,
                bytes=port.port.bytes,
                seconds=context.seconds(),
            )
        )


def check(context: PublishContext) -> None:
    """The contract's data rules on each staged snapshot, in the time left of the build."""
    product = context.product
    ports = []
    for port, staged in context.staged.items():
        context.told(f"checking {port} against its contract")
        # As it wrote them: not a column the table keeps for an earlier version.
        shown = _stored(context, port, staged) or tuple(Exposed(name) for name in staged.columns)
        binding = Binding((relation_name(port),), staged.scan, shown)
        ports.append(Checked(port, _expected(context, port), binding, staged.stats))
    declared = product.descriptor.build_limits
    seconds = context.mesh.settings.build_timeout
    if declared is not None and declared.seconds is not None:
        seconds = min(seconds, declared.seconds)  # the ceiling is the mesh's
    left = seconds - (time.perf_counter() - context.started)
    limits = context.mesh.build_limits("the build", rows=False, seconds=max(left, 0.001))
    try:
        found = check_ports(
            context.mesh.engine,
            ports,
            input_bindings(context, "check", named_in=_rules_text(product)),
            limits,
            conformance.DATA_RULES if context.schema_checked else conformance.RULES,
        )
    except PlatformError as error:
        context.fail_build(str(error), Outcome.ERROR)
        return
    except QuantaError as error:
        context.fail_build(str(error))
        return
    except Exception as error:
        reason = f"checking broke: {type(error).__name__}"  # its message may quote a value
        context.fail_build(reason, Outcome.ERROR)
        return
    context.checks.extend(found)
    finish(context)
    context.mesh.events.emit(
        checks_run(context.product_id, context.actor, None, Trigger.PUBLISH, context.checks)
    )
    failing = [check for check in context.checks if not check.outcome.ok]
    if failing:
        context.stop(Outcome.FAILED, broken(failing))


def _expected(context: PublishContext, port: str) -> Contract:
    """The port's contract with what its consumers expect of it added, each rule named for
    its consumer (`quanta.lifecycle.expectations`)."""
    from quanta.lifecycle.expectations import expected

    contract = context.product.contracts[port]
    found = context.mesh.stores.expectations.expectations(context.product_id, port, contract.major)
    if found:
        context.told(f"checking what {', '.join(e.consumer for e in found)} expect of {port}")
    return expected(contract, found)


def _stored(context: PublishContext, port: str, staged: StagedTable) -> tuple[Exposed, ...] | None:
    """The staged table's columns as its checks read them: encrypted ones decrypted, the
    platform's own left out; None (every column as stored) when none is encrypted."""
    sealed = context.encrypted.get(port)
    if not sealed:
        return None
    from quanta.governance.protection import decrypt_sql, encryption_context

    contract = context.contracts[port]
    shown = []
    for name in staged.columns:
        if name.lower().startswith(PLATFORM_PREFIX):
            continue
        column = contract.column(name)
        if name in sealed and column is not None:
            context_text = encryption_context(str(staged.table), name)
            kind = column.physical_type or "VARCHAR"
            shown.append(Exposed(name, decrypt_sql(quote(name), kind, context_text)))
        else:
            shown.append(Exposed(name))
    return tuple(shown)


def _rules_text(product: DataProduct) -> str:
    """The contracts as text: every name a rule may read is in there."""
    return json.dumps([contract.to_document() for contract in product.contracts.values()])


def finish(context: PublishContext) -> None:
    """The build is made: its time and size, told."""
    made = context.started_build()
    made.seconds = context.seconds()
    context.told(f"built {made.rows:,} rows in {made.seconds:.2f}s")


def register(context: PublishContext) -> None:
    """Make the new version the served one in the catalog, all at once."""
    context.progress(context.product_id, "registering the new version")
    assert context.inputs is not None
    assert context.build is not None
    record, version = records(
        context.product,
        context.build,
        context.staged,
        context.inputs.uses,
        context.checks,
        context.contracts,
        context.encrypted,
        context.scopes,
        code=context.code.text if context.code is not None else None,
        copies=context.copies,
        pseudonyms=context.pseudonyms,
    )
    today = version.published_at.date()
    deprecated = context.mesh.lifecycle.deprecations(context.product_id, version, today)
    told = {
        "actor": context.actor.model_dump(mode="json"),
        "ports": sorted(context.staged),
        "rows": context.build.rows,
        "seconds": context.build.seconds,
    }
    context.version = context.mesh.stores.catalog.publish(
        record, version, deprecated, told, _expectations(context)
    )
    for entry in deprecated:
        context.told(f"{entry.what} is deprecated until {entry.sunset}: {entry.reason}")


def _expectations(context: PublishContext) -> list[Expectation]:
    """What the product's input ports expect of the ports they read, kept for their
    producers' publishes (replacing what its earlier versions declared), registered with
    the version that declares them."""
    from datetime import UTC, datetime

    assert context.inputs is not None
    declared = {port.name: port.expects for port in context.product.descriptor.input_ports}
    return [
        Expectation(
            product=port.product,
            port=port.port.port,
            major=port.port.major,
            consumer=context.product_id,
            by=context.actor.name,
            rules=declared.get(port.names[0][0], []),
            at=datetime.now(UTC),
        )
        for port in context.inputs.upstream
    ]


def promote(context: PublishContext) -> None:
    """Move each table's main branch to the registered snapshot (recovery finishes this
    after a crash)."""
    assert context.version is not None
    for table in context.staged.values():
        context.mesh.storage.promote(table, f"v{context.version}")
    context.progress(context.product_id, f"published version {context.version}")


PUBLISH_STEPS: tuple[tuple[str, Step], ...] = (
    ("validate", validate),
    ("govern", govern),
    ("changes", compare),
    ("recover", recover),
    ("resolve inputs", resolve),
    ("build", build),
    ("check", check),
    ("register", register),
    ("promote", promote),
)
BUILD_STEPS: tuple[tuple[str, Step], ...] = (
    ("resolve inputs", resolve),
    ("build", build),
    ("finish", finish),
)

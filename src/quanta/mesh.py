"""`Mesh`: the one object every shell (CLI, Python, HTTP) talks to."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from quanta import registry
from quanta.errors import (
    ConfigError,
    InvalidProduct,
    NotFound,
    QuantaError,
    QueryRefused,
    UserError,
    first_line,
)
from quanta.model.catalog import (
    CheckRecord,
    ColumnInfo,
    Downstream,
    InputUse,
    PortVersion,
    ProductRecord,
    SearchHit,
    ServiceLevelStatus,
    TableStats,
    Version,
)
from quanta.model.contract import Contract
from quanta.model.names import PortAddress, ProductId, name_problem
from quanta.model.relations import Binding, TableScan
from quanta.model.result import (
    Build,
    Check,
    CheckRun,
    Outcome,
    PortBuild,
    Publication,
    Validation,
)
from quanta.model.types import storable_type
from quanta.quality import conformance
from quanta.settings import Settings, load_settings
from quanta.sql_text import quote
from quanta.storage import port_table
from quanta.stores import MetadataStore

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pyarrow as pa

    from quanta.build.inputs import ResolvedInputs
    from quanta.engines import Engine, Limits, Session
    from quanta.interop import ContractImport
    from quanta.model.product import DataProduct
    from quanta.storage import StagedTable, Storage
    from quanta.validation.folder import LoadedFolder

Progress = Callable[[str, str], None]
"""Told (product, step) as long work moves on; the CLI shows it."""

DEV_BRANCH = "dev"
SERVICE_LEVELS = ("freshness ", "completeness ")
"""Checks measuring a service level start with these words; `show` tracks them by day."""
PUBLISH_BRANCH_PREFIX = "publish-"


def _quiet(_product: str, _step: str) -> None:
    return None


class Lineage(BaseModel):
    product: str
    upstream: list[InputUse]
    downstream: list[Downstream]
    upstream_tree: dict[str, list[InputUse]]
    downstream_tree: dict[str, list[Downstream]]


class ProductView(BaseModel):
    """Everything ``quanta show`` presents about one product."""

    record: ProductRecord
    current: Version
    versions: list[Version]
    downstream: list[Downstream]
    service_levels: list[ServiceLevelStatus] = []


class Mesh:
    """A data mesh at a home folder: its catalog, its warehouse and the engine that runs it.

    >>> mesh = Mesh.open()                            # ./.quanta or $QUANTA_HOME
    >>> mesh.publish("products/checkout/orders")      # validate, build, check, register
    >>> mesh.read("sales.daily_revenue")              # a pyarrow Table
    """

    def __init__(self, settings: Settings, *, create: bool = True) -> None:
        self.settings = settings
        home = settings.home
        if not create and settings.catalog_url is None and not (home / "catalog.db").is_file():
            raise NotFound(
                f"there is no mesh at {home}: publish a product or run quanta demo first, "
                "or point --home (QUANTA_HOME) at a mesh"
            )
        try:
            home.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ConfigError(f"cannot use {home} as the mesh home: {error.strerror}") from None
        store_class = registry.load("quanta.stores", settings.store)
        self.store: MetadataStore = store_class(settings.catalog)

    @classmethod
    def open(cls, home: str | Path | None = None, *, create: bool = True, **settings: Any) -> Mesh:
        """The mesh at ``home``; with ``create=False`` a missing mesh is an error."""
        if home is not None:
            settings["home"] = Path(home)
        return cls(load_settings(**settings), create=create)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Mesh:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def home(self) -> Path:
        return self.settings.home

    # -- adapters, created when first needed: they import heavy libraries ----------------
    @cached_property
    def engine(self) -> Engine:
        engine_class = registry.load("quanta.engines", self.settings.engine)
        engine: Engine = engine_class(
            self.home / "extensions",
            memory_limit=self.settings.build_memory_limit,
            threads=self.settings.build_threads,
            # Python transformations hand over their tables as files: the home has room.
            scratch_directory=self.home / "scratch",
        )
        return engine

    @cached_property
    def storage(self) -> Storage:
        storage_class = registry.load("quanta.storage", self.settings.storage)
        # With a catalog URL (PostgreSQL), Iceberg's table pointers live in the same database.
        storage: Storage = storage_class(self.settings.warehouse_path, self.settings.catalog_url)
        return storage

    # -- producing ---------------------------------------------------------------------
    def validate(self, path: str | Path) -> list[Validation]:
        """Check every product folder at or below ``path``, against its files and the catalog."""
        return [validation for _, validation in _load_batch(Path(path), self.store)]

    def init_product(
        self,
        product: str,
        *,
        blueprint: str = "source",
        inputs: list[str] | None = None,
        directory: str | Path = ".",
    ) -> Path:
        """Scaffold ``directory/domain/product``; inputs seed the contract with their columns."""
        from quanta.scaffold import scaffold

        upstream = {address: self._port(address, None) for address in inputs or []}
        return scaffold(product, blueprint, Path(directory), upstream)

    def build(self, path: str | Path, progress: Progress = _quiet) -> list[Build]:
        """Build products into their tables' ``dev`` branch; nothing is published."""
        builds = []
        for loaded, validation in _load_batch(Path(path), self.store):
            if validation.issues or loaded.product is None:
                issues = "; ".join(f"{i.location()}: {i.message}" for i in validation.issues)
                builds.append(
                    Build(
                        product=validation.product,
                        outcome=Outcome.FAILED,
                        reason=f"the product does not validate: {issues}",
                    )
                )
                continue
            builds.append(self._build(loaded.product, DEV_BRANCH, progress).build)
        return builds

    def check(self, target: str | Path, version: int | None = None) -> list[CheckRun]:
        """Check a published product (``domain.product``) or a folder's last ``dev`` build."""
        if isinstance(target, str) and not Path(target).is_dir():
            if "/" in target or target.startswith("."):
                raise NotFound(
                    f"there is no folder {target}: name a product folder, or a "
                    "published product as domain.product"
                )
            return [self._check_published(target, version)]
        runs = []
        for loaded, validation in _load_batch(Path(target), self.store):
            if loaded.product is None:
                raise InvalidProduct(f"{validation.product} does not validate", validation.issues)
            product = loaded.product
            staged = {}
            for port, contract in product.contracts.items():
                found = self.storage.staged(
                    port_table(product.id, port, contract.major),
                    DEV_BRANCH,
                    contents=True,
                    private=contract.private_columns,
                )
                if found is None:
                    raise NotFound(f"{product.id} has no build to check: run quanta build first")
                staged[port] = found
            runs.append(self._check_staged(product, staged))
        return runs

    def publish(self, path: str | Path, progress: Progress = _quiet) -> list[Publication]:
        """Validate, build, check and register each product at or below ``path``, in order.

        Each product is published entirely or not at all; one that fails stops the ones
        after it that read it, and the previous version stays the served one.
        """
        publications: list[Publication] = []
        failed: set[str] = set()
        for loaded, validation in _load_batch(Path(path), self.store):
            product_id = validation.product
            started = time.perf_counter()
            if validation.issues or loaded.product is None:
                publications.append(
                    Publication(
                        product=product_id,
                        outcome=Outcome.FAILED,
                        reason="the product does not validate",
                        validation=validation,
                    )
                )
                failed.add(product_id)
                continue
            product = loaded.product
            blocked = sorted(str(up) for up in product.upstream_products if str(up) in failed)
            if blocked:
                publications.append(
                    Publication(
                        product=product_id,
                        outcome=Outcome.SKIPPED,
                        reason=f"it reads {', '.join(blocked)}, which did not publish",
                        validation=validation,
                    )
                )
                failed.add(product_id)
                continue
            publication = self._publish(product, validation, progress)
            publication.seconds = round(time.perf_counter() - started, 3)
            if not publication.outcome.ok:
                failed.add(product_id)
            publications.append(publication)
        return publications

    def demo(
        self, name: str = "retail", *, scale: float = 1.0, progress: Progress = _quiet
    ) -> tuple[Path, list[Publication]]:
        """Copy an example mesh into the home, generate its source data, publish it all."""
        from quanta.examples import copy_example, example_root, load_example

        root = example_root(name)
        example = load_example(root)
        workspace = copy_example(root, self.home / "examples" / name)
        for seed in example.seeds:
            progress(name, f"generating {seed.to}")
            sql = (workspace / seed.sql).read_text(encoding="utf-8")
            self.engine.export(sql, workspace / seed.to, {"scale": scale})
        return workspace, self.publish(workspace, progress)

    def import_contract(
        self, path: str | Path, out: str | Path
    ) -> tuple[ContractImport, list[Path]]:
        """Convert an ODCS v3 or DCS file into Quanta contracts, one file per table in ``out``.

        Nothing is written when a target file exists already.
        """
        import yaml

        from quanta.interop import import_document
        from quanta.validation.yaml_lines import YamlProblem, read_located

        source = Path(path)
        try:
            document = read_located(source).data
            result = import_document(document)
        except (AttributeError, TypeError, KeyError) as error:
            raise UserError(
                f"{source} is not a contract Quanta can read: a part has an "
                f"unexpected shape ({error})"
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

    def export_contract(self, address: str, version: int | None = None) -> dict[str, Any]:
        """An output port's contract, as published, in ODCS v3.1."""
        from quanta.interop import export_document

        port = self._port(address, version)
        return export_document(Contract.model_validate(port.contract))

    # -- consuming ---------------------------------------------------------------------
    def products(self) -> list[ProductRecord]:
        return self.store.products()

    def product(self, product_id: str) -> ProductRecord:
        record = self.store.product(_parse_id(product_id))
        if record is None:
            raise NotFound(f"no product {product_id!r} is published: see quanta list")
        return record

    def describe(self, product_id: str) -> ProductView:
        record = self.product(product_id)
        versions = self.store.versions(record.id)
        current = next(v for v in versions if v.version == record.current_version)
        return ProductView(
            record=record,
            current=current,
            versions=versions,
            downstream=self.store.downstream(record.id),
            service_levels=self.service_levels(record.id),
        )

    def service_levels(self, product_id: str, days: int = 30) -> list[ServiceLevelStatus]:
        """Each measured service level (freshness, completeness), day by day over the last
        ``days``.

        A day counts as met when every measurement of the level that day passed.
        """
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        since = today - timedelta(days=days - 1)  # exactly ``days`` calendar days
        by_level: dict[str, dict[date, bool]] = {}
        for run in self.store.check_history(product_id, since):
            for check in run.checks:
                if str(check.get("name", "")).startswith(SERVICE_LEVELS):
                    day = run.checked_at.date()
                    held = check.get("outcome") == "passed"
                    levels = by_level.setdefault(f"{check.get('port')}: {check['name']}", {})
                    levels[day] = levels.get(day, True) and held
        return [
            ServiceLevelStatus(
                name=name,
                days_met=sum(per_day.values()),
                days_measured=len(per_day),
                window_days=days,
            )
            for name, per_day in sorted(by_level.items())
        ]

    def search(self, text: str, limit: int = 20) -> list[SearchHit]:
        return self.store.search(text, limit)

    def lineage(self, product_id: str) -> Lineage:
        record = self.product(product_id)
        upstream_tree: dict[str, list[InputUse]] = {}
        downstream_tree: dict[str, list[Downstream]] = {}
        pending = [record.id]
        while pending:
            current = pending.pop()
            if current in upstream_tree:
                continue
            version = self.store.version(current)
            upstream_tree[current] = version.inputs if version else []
            pending.extend(use.upstream for use in upstream_tree[current] if use.upstream)
        pending = [record.id]
        while pending:
            current = pending.pop()
            if current in downstream_tree:
                continue
            downstream_tree[current] = self.store.downstream(current)
            pending.extend(edge.product for edge in downstream_tree[current])
        return Lineage(
            product=record.id,
            upstream=upstream_tree[record.id],
            downstream=downstream_tree[record.id],
            upstream_tree=upstream_tree,
            downstream_tree=downstream_tree,
        )

    def query(self, sql: str, limit: int | None = None) -> pa.Table:
        """Run read-only SQL over the served version of every product (``domain.product``).

        With ``limit``, the first ``limit`` rows, read no further. Without, a result above
        ``QUANTA_QUERY_MAX_ROWS`` rows is refused. A query running longer than
        ``QUANTA_QUERY_TIMEOUT`` seconds is stopped and refused.
        """
        if limit is not None and limit < 0:
            raise UserError(f"the limit must be 0 or more, not {limit}")
        bindings = self._served_bindings()
        visible = [name for binding in bindings for name in binding.names]
        from quanta.build.sql_guard import check_sql

        problems = check_sql(sql, visible, purpose="a query")
        if problems:
            raise QueryRefused("; ".join(f"{p.message} ({p.hint})" for p in problems))
        with self.engine.session(bindings, limits=self._query_limits("a query")) as session:
            return session.to_arrow(sql, limit=limit)

    def read(self, address: str, version: int | None = None) -> pa.Table:
        """One output port as an Arrow table: the served version, or a pinned one.

        All its rows; reading longer than ``QUANTA_QUERY_TIMEOUT`` seconds is stopped.
        """
        port = self._port(address, version)
        names = (tuple(address.split(".")),)
        limits = self._query_limits("reading a port", rows=False)
        with self.engine.session([Binding(names, port.scan)], limits=limits) as session:
            quoted = ".".join(f'"{part}"' for part in names[0])
            return session.to_arrow(f"SELECT * FROM {quoted}")

    # -- internals ---------------------------------------------------------------------
    def _query_limits(self, work: str, *, rows: bool = True) -> Limits:
        from quanta.engines import Limits

        return Limits(
            work,
            seconds=self.settings.query_timeout,
            seconds_setting="QUANTA_QUERY_TIMEOUT",
            rows=self.settings.query_max_rows if rows else None,
            rows_setting="QUANTA_QUERY_MAX_ROWS",
            rows_hint="add a LIMIT, or aggregate the rows (GROUP BY)",
        )

    def _build_limits(self, work: str, *, rows: bool = True) -> Limits:
        """A build's limits; its checks share its time (``QUANTA_BUILD_TIMEOUT``)."""
        from quanta.engines import Limits

        return Limits(
            work,
            seconds=self.settings.build_timeout,
            seconds_setting="QUANTA_BUILD_TIMEOUT",
            rows=self.settings.build_max_rows if rows else None,
            rows_setting="QUANTA_BUILD_MAX_ROWS",
        )

    def _port(self, address: str, version: int | None) -> PortVersion:
        try:
            parsed = PortAddress.parse(address)
        except ValueError as error:
            raise UserError(str(error)) from None
        record = self.product(str(parsed.product))
        found = self.store.version(record.id, version)
        if found is None:
            raise NotFound(f"{record.id} has no version {version}: see quanta show {record.id}")
        port = found.port(parsed.port)
        if port is None:
            names = ", ".join(p.port for p in found.ports)
            raise NotFound(
                f"{address!r} names no single output port: use one of "
                f"{', '.join(f'{record.id}.{n}' for n in names.split(', '))}"
            )
        return port

    def _served_bindings(self) -> list[Binding]:
        bindings = []
        for record in self.store.products():
            version = self.store.version(record.id)
            if version is None:
                continue
            for port in version.ports:
                names: list[tuple[str, ...]] = [(record.domain, record.name, port.port)]
                if len(version.ports) == 1:
                    names.insert(0, (record.domain, record.name))
                bindings.append(Binding(tuple(names), port.scan))
        return bindings

    def _build(
        self, product: DataProduct, branch: str, progress: Progress, *, check: bool = False
    ) -> _Staging:
        """Run the transformation and write each port as a snapshot on ``branch``.

        The output's columns are checked against the contract before anything is written,
        so a broken schema costs no write and leaves no trace. With ``check``, the data
        rules then run on each staged snapshot in the same engine session.

        The engine session bounds the whole build, from the transformation to the last
        check: ``QUANTA_BUILD_TIMEOUT`` seconds, ``QUANTA_BUILD_MAX_ROWS`` rows per port.
        A build stopped by a limit fails with it as the reason and leaves nothing staged.
        """
        from quanta.build import transform

        product_id = str(product.id)
        started = time.perf_counter()
        staging = _Staging(Build(product=product_id, outcome=Outcome.PASSED))

        def step(message: str) -> None:
            staging.build.log.append(f"{time.perf_counter() - started:7.2f}s {message}")
            progress(product_id, message)

        session: Session | None = None

        def fail(reason: str) -> _Staging:
            # Work the time limit stopped fails as that, wherever its interrupt surfaced
            # (inside the storage's writing too, as an OSError).
            stopped = session.stopped() if session is not None else None
            reason = stopped or reason
            self._discard(staging.staged)
            staging.staged = {}
            staging.build.outcome = Outcome.FAILED
            staging.build.reason = reason
            staging.build.seconds = round(time.perf_counter() - started, 3)
            return staging

        resolved = _resolve_inputs(product, self.store)
        staging.uses = resolved.uses
        if resolved.problems:
            return fail("; ".join(f"{message} ({hint})" for _, message, hint in resolved.problems))
        try:
            code = transform.read_code(product)
        except transform.TransformationFailed as error:
            return fail(str(error))
        sql_problems = transform.sql_problems(product, code, resolved.names)
        if sql_problems:
            return fail("; ".join(sql_problems))
        try:
            step("reading " + ", ".join(u.upstream or u.source or u.port for u in resolved.uses))
            outputs = [
                self.storage.location(port_table(product.id, port, contract.major))
                for port, contract in product.contracts.items()
            ]
            readable = frozenset(name[0] for name in resolved.names if len(name) == 1)
            limits = self._build_limits("the build")
            with self.engine.session(
                resolved.bindings, also_readable=outputs, limits=limits
            ) as session:
                step(f"running {product.transformation.path}")
                queries = transform.run(product, code, session)
                for port, query in queries.items():
                    contract = product.contracts[port]
                    columns = {
                        name: storable_type(kind) or kind for name, kind in session.columns(query)
                    }
                    schema = conformance.schema_rule(conformance.Target(port, contract, columns))
                    staging.checks.extend(schema.judge({}))
                    broken = [c for c in staging.checks if not c.outcome.ok]
                    if broken:
                        return fail(_broken(broken))
                    table = port_table(product.id, port, contract.major)
                    step(f"writing {table} ({branch})")
                    staged = self.storage.stage(
                        table, session.stream(query), branch, private=contract.private_columns
                    )
                    staging.staged[port] = staged
                    if check:
                        step(f"checking {port} against its contract")
                        relation = f"__staged_{port}"
                        session.bind(Binding(((relation,),), staged.scan))
                        staging.checks.extend(
                            _checks(
                                session,
                                conformance.Target(
                                    port, contract, {}, readable, quote(relation), staged.stats
                                ),
                                conformance.DATA_RULES,
                            )
                        )
                # Storage writes outside the engine: time may run out there, unnoticed.
                stopped = session.stopped()
                if stopped is not None:
                    return fail(stopped)
        except (transform.TransformationFailed, QuantaError) as error:
            return fail(str(error))
        except Exception as error:
            return fail(f"the transformation failed: {type(error).__name__}: {first_line(error)}")
        staging.build.ports = [
            PortBuild(
                port=port, rows=s.rows, bytes=s.bytes, table=str(s.table), snapshot_id=s.snapshot_id
            )
            for port, s in staging.staged.items()
        ]
        staging.build.seconds = round(time.perf_counter() - started, 3)
        step(f"built {staging.build.rows:,} rows in {staging.build.seconds:.2f}s")
        return staging

    def _discard(self, staged: dict[str, StagedTable]) -> None:
        for table in staged.values():
            self.storage.discard(table.table, table.branch)

    def _check_staged(self, product: DataProduct, staged: dict[str, StagedTable]) -> CheckRun:
        targets = {
            port: (product.contracts[port], table.scan, table.stats)
            for port, table in staged.items()
        }
        inputs = _resolve_inputs(product, self.store)
        return self._run_checks(str(product.id), targets, None, inputs.bindings)

    def _check_published(self, product_id: str, version: int | None) -> CheckRun:
        record = self.product(product_id)
        found = self.store.version(record.id, version)
        if found is None:
            raise NotFound(f"{record.id} has no version {version}: see quanta show {record.id}")
        targets = {
            port.port: (Contract.model_validate(port.contract), port.scan, port.stats)
            for port in found.ports
        }
        run = self._run_checks(record.id, targets, found.version, self._inputs_of(found))
        self.store.record_checks(
            CheckRecord(
                product=record.id,
                version=found.version,
                checked_at=datetime.now(UTC),
                trigger="check",
                outcome=run.outcome.value,
                checks=[check.model_dump(mode="json") for check in run.checks],
            )
        )
        return run

    def _inputs_of(self, version: Version) -> list[Binding]:
        """The other products' ports a published version read, at the versions it read."""
        bindings = []
        for use in version.inputs:
            if use.upstream is None or use.upstream_version is None:
                continue
            upstream = self.store.version(use.upstream, use.upstream_version)
            port = upstream.port(use.upstream_port) if upstream else None
            if port is not None:
                bindings.append(Binding(((use.port,),), port.scan))
        return bindings

    def _run_checks(
        self,
        product_id: str,
        targets: dict[str, tuple[Contract, TableScan, TableStats | None]],
        version: int | None,
        inputs: list[Binding],
    ) -> CheckRun:
        """Every rule on each port, one scan per port, with the inputs references read.

        Checking is part of building: it has the build's time (``QUANTA_BUILD_TIMEOUT``).
        """

        run = CheckRun(product=product_id, version=version)
        bindings = [Binding(((f"__port_{port}",),), scan) for port, (_, scan, _) in targets.items()]
        readable = frozenset(
            name[0] for binding in inputs for name in binding.names if len(name) == 1
        )
        limits = self._build_limits("the check", rows=False)
        with self.engine.session([*bindings, *inputs], limits=limits) as session:
            for port, (contract, _, stats) in targets.items():
                relation = quote(f"__port_{port}")
                target = conformance.Target(port, contract, {}, readable, relation, stats)
                run.checks.extend(_checks(session, target, conformance.RULES))
        return run

    def _publish(
        self, product: DataProduct, validation: Validation, progress: Progress
    ) -> Publication:
        product_id = str(product.id)
        self._reconcile(product)
        branch = f"{PUBLISH_BRANCH_PREFIX}{uuid.uuid4().hex[:12]}"
        staging = self._build(product, branch, progress, check=True)
        build = staging.build
        checks = CheckRun(product=product_id, checks=staging.checks)
        if not build.outcome.ok:
            return Publication(
                product=product_id,
                outcome=Outcome.FAILED,
                reason=f"the build failed: {build.reason}",
                validation=validation,
                build=build,
                checks=checks,
            )
        if not checks.outcome.ok:
            self._discard(staging.staged)
            return Publication(
                product=product_id,
                outcome=Outcome.FAILED,
                reason=_broken([c for c in checks.checks if not c.outcome.ok]),
                validation=validation,
                build=build,
                checks=checks,
            )
        progress(product_id, "registering the new version")
        record, version = self._records(product, build, staging.staged, staging.uses, checks)
        number = self.store.publish(record, version)
        for table in staging.staged.values():
            self.storage.promote(table, f"v{number}")
        checks.version = number
        progress(product_id, f"published version {number}")
        return Publication(
            product=product_id,
            outcome=Outcome.PASSED,
            version=number,
            validation=validation,
            build=build,
            checks=checks,
        )

    def _reconcile(self, product: DataProduct) -> None:
        """Finish what a publish killed after its commit left undone, and drop dead branches.

        The catalog decides what is served. If a publish stopped between registering a
        version and moving the tables' main branch, this moves it now.
        """
        current = self.store.version(str(product.id))
        served = {port.table: port for port in current.ports} if current else {}
        tables = {
            str(port_table(product.id, port, contract.major)): port_table(
                product.id, port, contract.major
            )
            for port, contract in product.contracts.items()
        }
        for name, table in tables.items():
            branches = self.storage.branches(table)
            port = served.get(name)
            main = self.storage.staged(table, "main")
            for branch in branches:
                if not branch.startswith(PUBLISH_BRANCH_PREFIX):
                    continue
                staged = self.storage.staged(table, branch)
                if (
                    port is not None
                    and staged is not None
                    and current is not None
                    and staged.snapshot_id == port.snapshot_id
                    and (main is None or main.snapshot_id != port.snapshot_id)
                ):
                    self.storage.promote(staged, f"v{current.version}")
                else:
                    self.storage.discard(table, branch)

    def _records(
        self,
        product: DataProduct,
        build: Build,
        staged: dict[str, StagedTable],
        uses: list[InputUse],
        checks: CheckRun,
    ) -> tuple[ProductRecord, Version]:
        descriptor = product.descriptor
        now = datetime.now(UTC)
        ports = []
        for output in descriptor.output_ports:
            contract = product.contracts[output.name]
            table = staged[output.name]
            primary = set(contract.primary_key)
            ports.append(
                PortVersion(
                    port=output.name,
                    contract_version=contract.version,
                    table=str(table.table),
                    snapshot_id=table.snapshot_id,
                    metadata_location=table.metadata_location,
                    location=table.location,
                    rows=table.rows,
                    bytes=table.bytes,
                    description=output.description or contract.table.description,
                    columns=[
                        ColumnInfo(
                            name=column.name,
                            type=column.physical_type or column.logical_type,
                            logical_type=column.logical_type,
                            nullable=column.nullable,
                            primary_key=column.name in primary,
                            classification=column.classification,
                            description=column.description,
                        )
                        for column in contract.columns
                    ],
                    contract=contract.to_document(),
                    files=list(table.files) if table.files is not None else None,
                    stats=table.stats,
                )
            )
        record = ProductRecord(
            id=str(product.id),
            domain=product.id.domain,
            name=product.id.name,
            title=descriptor.name,
            description=descriptor.description.purpose if descriptor.description else None,
            owner=descriptor.owner,
            contact=descriptor.contact,
            status=descriptor.status,
            tags=descriptor.tags,
            folder=product.folder,
            current_version=0,
            updated_at=now,
            descriptor=descriptor.to_document(),
        )
        version = Version(
            product=str(product.id),
            version=0,
            published_at=now,
            seconds=build.seconds,
            ports=ports,
            inputs=uses,
            checks=[check.model_dump(mode="json") for check in checks.checks],
        )
        return record, version


@dataclass
class _Staging:
    """A build on its way to publication: the snapshots it staged and what it found."""

    build: Build
    staged: dict[str, StagedTable] = field(default_factory=dict)
    uses: list[InputUse] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)


def _checks(
    session: Session, target: conformance.Target, rules: tuple[conformance.Rule, ...]
) -> list[Check]:
    """Every rule on the target's relation, in at most one scan of it."""
    columns = {
        name: storable_type(kind) or kind
        for name, kind in session.columns(f"SELECT * FROM {target.relation}")
    }
    target = dataclasses.replace(target, columns=columns)
    plans = [rule(target) for rule in rules]
    compiled = conformance.compile_query(plans, target.relation)
    values: dict[str, Any] = {}
    if compiled is not None:
        query, keys = compiled
        row = session.to_arrow(query).to_pylist()[0]
        values = dict(zip(keys, row.values(), strict=True))
    return [check for plan in plans for check in plan.judge(values)]


def _broken(checks: list[Check]) -> str:
    shown = "; ".join(f"{check.name}: {check.reason}" for check in checks[:5])
    more = f" (and {len(checks) - 5} more)" if len(checks) > 5 else ""
    return f"the output breaks its contract: {shown}{more}"


def _parse_id(text: str) -> str:
    try:
        return str(ProductId.parse(text))
    except ValueError as error:
        raise UserError(str(error)) from None


# Product folders are read only to validate, build or publish: their code loads on first use.
def _load_batch(path: Path, store: MetadataStore) -> Iterator[tuple[LoadedFolder, Validation]]:
    from quanta.validation.batch import load_batch

    return load_batch(path, store)


def _resolve_inputs(product: DataProduct, store: MetadataStore) -> ResolvedInputs:
    from quanta.build.inputs import resolve_inputs

    return resolve_inputs(product, store)

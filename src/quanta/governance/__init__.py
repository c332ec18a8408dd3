"""Federated computational governance: the federation's policies, evaluated at validate,
at publish and over the whole mesh; protection of classified columns in the one read path;
and the hash-chained audit log of what governance decided.

The governance folder (``QUANTA_GOVERNANCE``, default ``governance/`` in the home) is read
again whenever one of its files changes. Without one, the built-in default policies and
protections hold.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quanta.errors import ConfigError, PlatformError, UserError
from quanta.model.access import AccessRequest, RequestState
from quanta.model.actor import Actor, ActorKind
from quanta.model.contract import CLASSIFICATIONS, PLATFORM_PREFIX
from quanta.model.governance import Compliance, Finding, RolloutState
from quanta.model.usage import ConsumerUsage

if TYPE_CHECKING:
    import pyarrow as pa

    from quanta.context import MeshContext
    from quanta.governance.audit import Audit
    from quanta.governance.folder import GovernanceRules
    from quanta.governance.keys import KeyStore
    from quanta.model.contract import Contract
    from quanta.model.product import DataProduct


CHANGED = "governance.changed"
FOLDER = "governance folder"
PLATFORM = Actor(name="quanta", kind=ActorKind.SERVICE)


def today() -> date:
    return datetime.now(UTC).date()


def said(finding: Finding) -> str:
    """One finding in a sentence for the team: the policy, what fails, the fix, the day."""
    where = f" ({', '.join(finding.failing)})" if finding.failing else ""
    grace = f"; enforced after {finding.until:%Y-%m-%d}" if finding.state == "grace" else ""
    broke = f" (it could not be evaluated: {finding.error})" if finding.error else ""
    return f"policy {finding.policy}{where}: {finding.message}{broke}{grace}"


class Governance:
    """The governance capability of one mesh."""

    def __init__(self, context: MeshContext) -> None:
        self.context = context
        self._rules: GovernanceRules | None = None
        self._stamp: tuple[tuple[str, int, int, int, int], ...] | None = None

    @property
    def folder(self) -> Path | None:
        """The governance folder, when the mesh has one."""
        settings = self.context.settings
        if settings.governance is not None:
            return Path(settings.governance)
        default = settings.home / "governance"
        return default if default.is_dir() else None

    @property
    def rules(self) -> GovernanceRules:
        """The policies and protections in force, read anew when a file changed."""
        from quanta.governance.folder import load_rules

        folder = self.folder
        stamp = _stamp(folder)
        if self._rules is None or stamp != self._stamp:
            rules = load_rules(folder)  # a folder that does not load stops every read
            self._changed(rules)
            self._rules, self._stamp = rules, stamp
        return self._rules

    def _changed(self, rules: GovernanceRules) -> None:
        """Keep in the audit log each new version of the policies and protections."""
        if self._rules is not None and self._rules.fingerprint == rules.fingerprint:
            return
        kept = self.audit.entries(kind=CHANGED, subject=FOLDER)
        if kept and kept[-1].details.get("fingerprint") == rules.fingerprint:
            return
        protections = {
            level: rules.config.protection(level).protection.value for level in CLASSIFICATIONS
        }
        self.audit.record(
            CHANGED,
            PLATFORM,
            FOLDER,
            {
                "fingerprint": rules.fingerprint,
                "protections": protections,
                "policies": sorted(policy.id for policy in rules.policies),
            },
        )

    # -- policies ------------------------------------------------------------------------
    def findings(self, product: DataProduct, *, drafts: bool = False) -> list[Finding]:
        """The policies that fail on ``product`` as its folder stands, with what the catalog
        measured of its served version (checks, usage, grants). Draft policies are the
        governance group's: only with ``drafts``."""
        from quanta.governance.facts import product_facts

        measured = self.measured([str(product.id)])
        rules = self.rules
        facts = product_facts(
            product, **measured.get(str(product.id), {}), column_keys=rules.column_keys
        )
        found = rules.evaluate(facts, today())
        return [f for f in found if not f.holds and (drafts or f.state != RolloutState.DRAFT)]

    def measured(self, products: list[str]) -> dict[str, dict[str, Any]]:
        """What the catalog measured of each product: the outcomes of its last checks, its
        readers over 30 days and its live grants, as `quanta.governance.facts` takes them."""
        stores = self.context.stores
        now = datetime.now(UTC)
        since = now - timedelta(days=30)
        wanted = set(products)
        usage: dict[str, list[ConsumerUsage]] = {}
        for item in stores.usage.by_consumer(since=since):
            if item.product in wanted:
                usage.setdefault(item.product, []).append(item)
        grants: dict[str, list[AccessRequest]] = {}
        for grant in stores.access.requests(states=[RequestState.APPROVED]):
            if grant.product in wanted and grant.live(now):
                grants.setdefault(grant.product, []).append(grant)
        measured: dict[str, dict[str, Any]] = {}
        for product in products:
            version = stores.catalog.version(product)
            checks = None
            if version is not None and version.checks:
                checks = [str(check.get("outcome", "")) for check in version.checks]
            measured[product] = {
                "checks": checks,
                "usage": usage.get(product, []),
                "grants": grants.get(product, []),
            }
        return measured

    def compliance(self, actor: Actor) -> tuple[Compliance, bool]:
        """Every policy over every published product; with the draft policies' findings
        only for the governance group (the second value says whether they are in)."""
        from quanta.governance.facts import record_facts
        from quanta.governance.report import without_drafts

        catalog = self.context.stores.catalog
        records = catalog.products()
        measured = self.measured([record.id for record in records])
        rules = self.rules
        facts = []
        for record in records:
            version = catalog.version(record.id)
            contracts = {port.port: port.contract for port in version.ports} if version else {}
            facts.append(
                record_facts(
                    record.descriptor,
                    contracts,
                    **measured.get(record.id, {}),
                    column_keys=rules.column_keys,
                )
            )
        day = today()
        drafts = self.context.access.directory.decides_for_all(actor) or (
            actor.name in self.context.access.directory.governance()
        )
        compliance = rules.evaluate_mesh(facts, day)
        return (compliance if drafts else without_drafts(compliance)), drafts

    def evaluated(self, product: str, actor: Actor, findings: list[Finding]) -> None:
        """Keep in the audit log that the policies were evaluated on a publish, and what
        they found (policy ids and what fails: names, never values)."""
        self.audit.record(
            "policy.evaluated",
            actor,
            product,
            {
                "rules": self.rules.fingerprint,
                "failing": [
                    {"policy": f.policy, "state": f.state.value, "failing": list(f.failing)}
                    for f in findings
                ],
                "blocked": [f.policy for f in findings if f.blocks],
            },
        )

    # -- protection ----------------------------------------------------------------------
    @cached_property
    def keys(self) -> KeyStore:
        """The mesh's keys: a folder only its owner may read, in the home."""
        from quanta.governance.keys import LocalKeyStore

        return LocalKeyStore(self.context.settings.home / "keys")

    def stored_rows(
        self,
        contract: Contract,
        rows: pa.RecordBatchReader,
        table: str,
        scopes: Mapping[str, str],
    ) -> pa.RecordBatchReader:
        """A build's output as it is stored in ``table``: with the pseudonyms of its
        private columns, each keyed for its scope (``scopes``; by default the column's
        own), and the columns the mapping encrypts encrypted."""
        from quanta.governance.crypto import encryption_key, pseudonym_key, scoped_key
        from quanta.governance.protection import at_rest, encryption_context, pseudonymized

        reserved = [n for n in rows.schema.names if n.lower().startswith(PLATFORM_PREFIX)]
        if reserved:
            raise UserError(
                f"the output has a column named {reserved[0]!r}: names beginning with "
                f"{PLATFORM_PREFIX} are Quanta's own, rename it in the transformation"
            )
        columns = pseudonymized(contract)
        sealed = {name: encryption_context(table, name) for name in self.encrypted(contract)}
        if not columns and not sealed:
            return rows
        unscoped = [name for name in columns if name not in scopes]
        if unscoped:
            raise PlatformError(f"the build gave no pseudonym scope for {unscoped[0]!r}")
        # A key is made only for a mesh that has not used one yet: a lost key must not be
        # replaced by a new one silently (joins and decryption would break unseen).
        base = self._key(pseudonym_key, "pseudonym")
        keys = {name: scoped_key(base, scopes[name]) for name in columns}
        sealing = self._key(encryption_key, "encrypted") if sealed else b""
        return at_rest(rows, keys, sealed, sealing)

    def _key(self, kind: Callable[..., bytes], what: str) -> bytes:
        try:
            return kind(self.keys, create=False)
        except ConfigError:
            if self._kept(what):
                raise
            return kind(self.keys)

    def _kept(self, what: str) -> bool:
        """Whether a published version stores pseudonyms (``"pseudonym"``) or encrypted
        values (``"encrypted"``): then their key exists, or was lost."""
        catalog = self.context.stores.catalog
        for record in catalog.products():
            version = catalog.version(record.id)
            for port in version.ports if version else ():
                if any(getattr(column, what) for column in port.columns):
                    return True
        return False

    def encrypted(self, contract: Contract) -> list[str]:
        """The columns of ``contract`` stored encrypted, as the mapping says now."""
        from quanta.governance.protection import encrypted

        return encrypted(self.rules.config, contract)

    # -- audit ---------------------------------------------------------------------------
    @cached_property
    def audit(self) -> Audit:
        from quanta.governance.audit import Audit

        return Audit(self.context)


def _stamp(folder: Path | None) -> tuple[tuple[str, int, int, int, int], ...]:
    """What changes when a file of the folder does: names, inodes, times and sizes (the
    change time too, which a copy that keeps the modification time cannot keep)."""
    if folder is None:
        return ()
    found = []
    for path in sorted([folder / "governance.yaml", *folder.glob("policies/*.yaml")]):
        try:
            stat = path.stat()
        except OSError:
            continue
        found.append((path.name, stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_size))
    return tuple(found)

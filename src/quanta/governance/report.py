"""What a `Compliance` says, summed up: per policy, per domain and per product, and as the
JSON of ``quanta governance report --json``. Pure functions over the model: nothing is
evaluated, read or written here, and the table, HTML and terminal renderings all count
from these summaries, so they cannot disagree.

Counting. Each finding is one policy over one product. It *holds*, or it *fails*; a
failing one is exactly one of *blocking* (`Finding.blocks`), *warning* (`Finding.warns`:
a grace period, or an enforced policy that does not block) or *draft* (told to the
governance group only). A policy that could not be evaluated on a product counts as
failing, and also as an *error*. Compliance is the share of findings that hold, rounded
down, so that 100 % means nothing fails.

The JSON (`to_json`), every key always present::

    {
      "day": "2025-06-01",
      "drafts": false,                  # whether draft policies are in the report
      "policies": [{
        "id", "title", "rationale", "fix",
        "severity": "info" | "warn" | "block",
        "state": "draft" | "grace" | "enforced",   # in force on the day
        "until": "2025-07-01" | null,              # the last day of grace, when in grace
        "each": "product" | "port" | "column",
        "scope": {"domains", "kinds", "classifications", "products"}   # lists, or null: any
      }],
      "findings": [{
        "policy", "product", "domain", "severity", "state", "until",
        "holds": bool,
        "standing": "held" | "failing" | "blocking" | "grace" | "draft",
        "failing": ["column profiles.email", ...],   # empty: the product as a whole
        "error": str | null,                         # the policy could not be evaluated
        "message": str                               # the title and the fix, for the team
      }],
      "summary": {
        "overall": {"policies", "products", "domains", "blocked_products", **COUNTS},
        "per_policy": [{"policy", "title", "severity", "state", "until", **COUNTS}],
        "per_domain": [{"domain", "products", "blocked_products", **COUNTS}],
        "per_product": [{"product", "domain", **COUNTS}]
      }
    }

where ``COUNTS`` is ``in_scope, holding, failing, blocking, warning, grace, draft, errors,
compliance`` (a percentage with one decimal; null when nothing is in scope). Policies are
in the order they were loaded; findings and summaries by domain, product, then policy.

``drafts=False`` leaves out draft policies and their findings: the teams' view. Their
existence and results are the governance group's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from quanta.model.governance import Compliance, Finding, Policy, RolloutState, Severity

__all__ = [
    "DomainSummary",
    "Matrix",
    "Overview",
    "PolicySummary",
    "ProductSummary",
    "Standing",
    "Tally",
    "failing_findings",
    "matrix",
    "overview",
    "per_domain",
    "per_policy",
    "per_product",
    "policies_by_state",
    "policy_state",
    "policy_until",
    "standing",
    "subjects",
    "tally",
    "to_json",
    "without_drafts",
]


class Standing(StrEnum):
    """Where one policy stands on one product: one cell of the product x policy matrix."""

    HELD = "held"
    FAILING = "failing"
    """Enforced, and does not block: a warning with no deadline."""
    BLOCKING = "blocking"
    GRACE = "grace"
    """Failing, a warning until the last day of its grace period."""
    DRAFT = "draft"
    """Failing a draft policy: for the governance group only."""
    NOT_IN_SCOPE = "not-in-scope"


def standing(finding: Finding | None) -> Standing:
    if finding is None:
        return Standing.NOT_IN_SCOPE
    if finding.holds:
        return Standing.HELD
    if finding.blocks:
        return Standing.BLOCKING
    if finding.state == RolloutState.DRAFT:
        return Standing.DRAFT
    if finding.state == RolloutState.GRACE:
        return Standing.GRACE
    return Standing.FAILING


def subjects(finding: Finding) -> tuple[str, ...]:
    """What fails: the ports or columns, or the product itself for a product policy."""
    return finding.failing or (("the product",) if not finding.holds else ())


def policy_state(policy: Policy, day: date) -> RolloutState:
    return policy.rollout.state_on(day)


def policy_until(policy: Policy, day: date) -> date | None:
    """The last day of grace, while the policy is in grace on ``day``."""
    return policy.rollout.until if policy_state(policy, day) == RolloutState.GRACE else None


def without_drafts(compliance: Compliance) -> Compliance:
    """The teams' view: no draft policy, no finding of one."""
    return Compliance(
        day=compliance.day,
        policies=tuple(
            policy
            for policy in compliance.policies
            if policy_state(policy, compliance.day) != RolloutState.DRAFT
        ),
        findings=tuple(f for f in compliance.findings if f.state != RolloutState.DRAFT),
    )


# -- counting -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    in_scope: int = 0
    holding: int = 0
    failing: int = 0
    blocking: int = 0
    warning: int = 0
    grace: int = 0
    """Of the warnings, those in a grace period."""
    draft: int = 0
    errors: int = 0
    """Of the failing, those that could not be evaluated."""

    @property
    def compliance(self) -> float | None:
        """The share of findings that hold, in percent, rounded down to one decimal."""
        if not self.in_scope:
            return None
        return math.floor(1000 * self.holding / self.in_scope) / 10

    def as_json(self) -> dict[str, Any]:
        return {
            "in_scope": self.in_scope,
            "holding": self.holding,
            "failing": self.failing,
            "blocking": self.blocking,
            "warning": self.warning,
            "grace": self.grace,
            "draft": self.draft,
            "errors": self.errors,
            "compliance": self.compliance,
        }


def tally(findings: Iterable[Finding]) -> Tally:
    counts = dict.fromkeys(
        ("in_scope", "holding", "failing", "blocking", "warning", "grace", "draft", "errors"), 0
    )
    for finding in findings:
        counts["in_scope"] += 1
        where = standing(finding)
        if where == Standing.HELD:
            counts["holding"] += 1
            continue
        counts["failing"] += 1
        counts["errors"] += finding.error is not None
        if where == Standing.BLOCKING:
            counts["blocking"] += 1
        elif where == Standing.DRAFT:
            counts["draft"] += 1
        else:
            counts["warning"] += 1
            counts["grace"] += where == Standing.GRACE
    return Tally(**counts)


@dataclass(frozen=True)
class PolicySummary:
    id: str
    title: str
    severity: Severity
    state: RolloutState
    """In force on the day."""
    until: date | None
    tally: Tally


@dataclass(frozen=True)
class DomainSummary:
    domain: str
    products: int
    blocked_products: int
    """Products that at least one policy blocks."""
    tally: Tally


@dataclass(frozen=True)
class ProductSummary:
    product: str
    domain: str
    tally: Tally


@dataclass(frozen=True)
class Overview:
    day: date
    policies: int
    products: int
    domains: int
    blocked_products: int
    tally: Tally


def _policy_order(compliance: Compliance) -> list[str]:
    """The policies' ids as loaded, then any a finding names that the list lacks (they
    still count: a finding is never dropped from a report)."""
    order = [policy.id for policy in compliance.policies]
    known = set(order)
    for finding in compliance.findings:
        if finding.policy not in known:
            known.add(finding.policy)
            order.append(finding.policy)
    return order


def _ordered(compliance: Compliance) -> list[Finding]:
    position = {policy: index for index, policy in enumerate(_policy_order(compliance))}
    return sorted(compliance.findings, key=lambda f: (f.domain, f.product, position[f.policy]))


def per_policy(compliance: Compliance) -> tuple[PolicySummary, ...]:
    policies = {policy.id: policy for policy in compliance.policies}
    summaries = []
    for policy_id in _policy_order(compliance):
        findings = [f for f in compliance.findings if f.policy == policy_id]
        policy = policies.get(policy_id)
        if policy is not None:
            title, severity = policy.title, policy.severity
            state = policy_state(policy, compliance.day)
            until = policy_until(policy, compliance.day)
        else:  # known from its findings only
            title, severity, state, until = (
                policy_id,
                findings[0].severity,
                findings[0].state,
                findings[0].until,
            )
        summaries.append(PolicySummary(policy_id, title, severity, state, until, tally(findings)))
    return tuple(summaries)


def policies_by_state(compliance: Compliance) -> dict[RolloutState, tuple[PolicySummary, ...]]:
    """The policies' summaries grouped by the state in force: enforced, grace, draft."""
    summaries = per_policy(compliance)
    return {
        state: tuple(s for s in summaries if s.state == state)
        for state in (RolloutState.ENFORCED, RolloutState.GRACE, RolloutState.DRAFT)
    }


def _products(findings: Sequence[Finding]) -> dict[str, list[Finding]]:
    by_product: dict[str, list[Finding]] = {}
    for finding in findings:
        by_product.setdefault(finding.product, []).append(finding)
    return by_product


def per_product(compliance: Compliance) -> tuple[ProductSummary, ...]:
    return tuple(
        ProductSummary(product, findings[0].domain, tally(findings))
        for product, findings in _products(_ordered(compliance)).items()
    )


def per_domain(compliance: Compliance) -> tuple[DomainSummary, ...]:
    by_domain: dict[str, list[Finding]] = {}
    for finding in _ordered(compliance):
        by_domain.setdefault(finding.domain, []).append(finding)
    return tuple(
        DomainSummary(
            domain,
            products=len(_products(findings)),
            blocked_products=_blocked(findings),
            tally=tally(findings),
        )
        for domain, findings in by_domain.items()
    )


def _blocked(findings: Iterable[Finding]) -> int:
    return len({f.product for f in findings if f.blocks})


def overview(compliance: Compliance) -> Overview:
    return Overview(
        day=compliance.day,
        policies=len(_policy_order(compliance)),
        products=len({f.product for f in compliance.findings}),
        domains=len({f.domain for f in compliance.findings}),
        blocked_products=_blocked(compliance.findings),
        tally=tally(compliance.findings),
    )


def failing_findings(compliance: Compliance, policy: str | None = None) -> tuple[Finding, ...]:
    """The findings that fail (of one policy, or all), blocking ones first."""
    rank = {Standing.BLOCKING: 0, Standing.GRACE: 1, Standing.FAILING: 2, Standing.DRAFT: 3}
    found = [
        f for f in _ordered(compliance) if not f.holds and (policy is None or f.policy == policy)
    ]
    return tuple(sorted(found, key=lambda f: rank[standing(f)]))


@dataclass(frozen=True)
class Matrix:
    """Products (rows, by domain) x policies (columns, as loaded)."""

    products: tuple[tuple[str, str], ...]
    """(product, domain)."""
    policies: tuple[str, ...]
    cells: dict[tuple[str, str], Finding]

    def finding(self, product: str, policy: str) -> Finding | None:
        """None: the policy does not concern the product."""
        return self.cells.get((product, policy))


def matrix(compliance: Compliance) -> Matrix:
    ordered = _ordered(compliance)
    rows = dict.fromkeys((f.product, f.domain) for f in ordered)
    return Matrix(
        products=tuple(rows),
        policies=tuple(_policy_order(compliance)),
        cells={(f.product, f.policy): f for f in ordered},
    )


# -- JSON -----------------------------------------------------------------------------------


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _policy_json(policy: Policy, day: date) -> dict[str, Any]:
    return {
        "id": policy.id,
        "title": policy.title,
        "rationale": policy.rationale,
        "fix": policy.fix,
        "severity": policy.severity.value,
        "state": policy_state(policy, day).value,
        "until": _day(policy_until(policy, day)),
        "each": policy.each,
        "scope": {
            "domains": policy.scope.domains,
            "kinds": policy.scope.kinds,
            "classifications": policy.scope.classifications,
            "products": policy.scope.products,
        },
    }


def _finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "policy": finding.policy,
        "product": finding.product,
        "domain": finding.domain,
        "severity": finding.severity.value,
        "state": finding.state.value,
        "until": _day(finding.until),
        "holds": finding.holds,
        "standing": standing(finding).value,
        "failing": list(finding.failing),
        "error": finding.error,
        "message": finding.message,
    }


def to_json(compliance: Compliance, *, drafts: bool) -> dict[str, Any]:
    """The report as JSON values (the shape is in this module's docstring)."""
    if not drafts:
        compliance = without_drafts(compliance)
    whole = overview(compliance)
    return {
        "day": compliance.day.isoformat(),
        "drafts": drafts,
        "policies": [_policy_json(policy, compliance.day) for policy in compliance.policies],
        "findings": [_finding_json(finding) for finding in _ordered(compliance)],
        "summary": {
            "overall": {
                "policies": whole.policies,
                "products": whole.products,
                "domains": whole.domains,
                "blocked_products": whole.blocked_products,
                **whole.tally.as_json(),
            },
            "per_policy": [
                {
                    "policy": s.id,
                    "title": s.title,
                    "severity": s.severity.value,
                    "state": s.state.value,
                    "until": _day(s.until),
                    **s.tally.as_json(),
                }
                for s in per_policy(compliance)
            ],
            "per_domain": [
                {
                    "domain": s.domain,
                    "products": s.products,
                    "blocked_products": s.blocked_products,
                    **s.tally.as_json(),
                }
                for s in per_domain(compliance)
            ],
            "per_product": [
                {"product": s.product, "domain": s.domain, **s.tally.as_json()}
                for s in per_product(compliance)
            ],
        },
    }

"""How governance findings look in a terminal: those of one product under ``quanta
validate`` and ``quanta publish``, and the table form of ``quanta governance report``
(its ``--json`` is `quanta.governance.report.to_json` through `output.print_json`).

Policy titles, fixes, product ids, subjects and errors are the teams' words: each goes
through `shown`, so it prints as typed on any console, one with markup on included.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from rich.console import Console
from rich.table import Table
from rich.text import Text

from quanta.cli import output
from quanta.cli.output import shown
from quanta.governance.report import (
    Standing,
    Tally,
    failing_findings,
    overview,
    per_domain,
    per_policy,
    per_product,
    standing,
    subjects,
    without_drafts,
)
from quanta.model.governance import Compliance, Finding, Policy, RolloutState

__all__ = ["render_compliance", "render_findings", "render_policies"]

STYLES = {
    Standing.HELD: "green",
    Standing.FAILING: "yellow",
    Standing.BLOCKING: "bold red",
    Standing.GRACE: "yellow",
    Standing.DRAFT: "magenta",
    Standing.NOT_IN_SCOPE: "dim",
}


def _label(where: Standing, until: date | None) -> str:
    if where == Standing.GRACE and until is not None:
        return f"grace until {until.isoformat()}"
    if where == Standing.FAILING:
        return "warning"
    return where.value.replace("-", " ")


def _standing(finding: Finding) -> Text:
    where = standing(finding)
    return Text(_label(where, finding.until), style=STYLES[where])


def _what_fails(finding: Finding) -> Text:
    if finding.error is not None:
        return Text.assemble("could not be evaluated: ", shown(finding.error))
    return shown(", ".join(subjects(finding)))


def render_findings(console: Console, findings: Sequence[Finding]) -> None:
    """What the policies say of a product: each blocking finding (the policy, what fails,
    the fix), then each warning (with the last day of its grace). Findings that hold, and
    those of draft policies, are not the team's to see here."""
    told = [f for f in findings if f.blocks or f.warns]
    blocking = [f for f in told if f.blocks]
    # The nearest deadline first; warnings without one after them.
    warnings = sorted(
        (f for f in told if not f.blocks),
        key=lambda f: (f.until is None, f.until or date.max, f.policy),
    )
    several = len({f.product for f in told}) > 1
    for finding in [*blocking, *warnings]:
        line = Text.assemble(
            _standing(finding),
            " ",
            *((shown(finding.product, "bold"), " ") if several else ()),
            shown(finding.policy, "bold"),
            ": ",
            _what_fails(finding),
        )
        console.print(line)
        if finding.message:
            console.print(Text.assemble("    ", shown(finding.message, "dim")))


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}%"


def _count_columns(table: Table, drafts: bool) -> None:
    for name in ("holding", "failing", "blocking", "warning", *(["draft"] if drafts else [])):
        table.add_column(name, justify="right")
    table.add_column("compliance", justify="right")


def _counts(counts: Tally, drafts: bool) -> list[Text]:
    cells = [
        Text(str(counts.holding), style="green" if counts.holding else ""),
        Text(str(counts.failing)),
        Text(str(counts.blocking), style="bold red" if counts.blocking else ""),
        Text(str(counts.warning), style="yellow" if counts.warning else ""),
    ]
    if drafts:
        cells.append(Text(str(counts.draft), style="magenta" if counts.draft else ""))
    cells.append(Text(_percent(counts.compliance)))
    return cells


def render_compliance(console: Console, compliance: Compliance, drafts: bool) -> None:
    """The report as tables: per domain, per product and per policy, then what fails.
    ``drafts=False`` leaves out draft policies and their findings."""
    if not drafts:
        compliance = without_drafts(compliance)
    whole = overview(compliance)
    counts = whole.tally
    console.print(
        Text.assemble(
            f"Compliance on {compliance.day.isoformat()}: ",
            (_percent(counts.compliance), "bold"),
            f" of {counts.in_scope} findings hold ({whole.policies} policies, "
            f"{whole.products} products); ",
            (f"{counts.blocking} blocking", "bold red" if counts.blocking else ""),
            f" in {whole.blocked_products} product{'' if whole.blocked_products == 1 else 's'}, ",
            (f"{counts.warning} warnings", "yellow" if counts.warning else ""),
            f" ({counts.grace} in grace)",
            *((f", {counts.draft} failing drafts", "magenta"),) if drafts else (),
            ".",
        )
    )
    if not counts.in_scope:
        return

    domains = Table("domain", title="per domain", title_justify="left")
    domains.add_column("products", justify="right")
    domains.add_column("blocked", justify="right")
    _count_columns(domains, drafts)
    for domain in per_domain(compliance):
        domains.add_row(
            shown(domain.domain),
            str(domain.products),
            str(domain.blocked_products),
            *_counts(domain.tally, drafts),
        )
    console.print(domains)

    products = Table("product", "domain", title="per product", title_justify="left")
    _count_columns(products, drafts)
    for product in per_product(compliance):
        products.add_row(
            shown(product.product), shown(product.domain), *_counts(product.tally, drafts)
        )
    console.print(products)

    policies = Table(
        "policy", "title", "severity", "state", title="per policy", title_justify="left"
    )
    policies.add_column("in scope", justify="right")
    _count_columns(policies, drafts)
    for policy in per_policy(compliance):
        state = policy.state.value
        if policy.until is not None:
            state += f" until {policy.until.isoformat()}"
        policies.add_row(
            shown(policy.id),
            shown(policy.title),
            policy.severity.value,
            state,
            str(policy.tally.in_scope),
            *_counts(policy.tally, drafts),
        )
    console.print(policies)

    failing = failing_findings(compliance)
    if failing:
        table = Table(
            "policy", "product", "standing", "what fails", title="failing", title_justify="left"
        )
        for finding in failing:
            table.add_row(
                shown(finding.policy),
                shown(finding.product),
                _standing(finding),
                _what_fails(finding),
            )
        console.print(table)


def render_policies(policies: Sequence[Policy], console: Console | None = None) -> None:
    """The policies as written (``quanta governance policies``): the rollout as declared,
    where each is written."""
    console = console or output.console
    if not policies:
        console.print("No policy is in force.")
        return
    table = Table(expand=True)
    table.add_column("policy", ratio=5)  # its id, its title and where it is written
    table.add_column("severity", min_width=8, no_wrap=True)
    table.add_column("rollout", ratio=2)
    table.add_column("each", min_width=7, no_wrap=True)
    table.add_column("scope", ratio=2)
    for policy in policies:
        rollout = policy.rollout.state.value
        if policy.rollout.state == RolloutState.GRACE and policy.rollout.until is not None:
            rollout += f" until {policy.rollout.until.isoformat()}"
        described = Text("\n").join(
            [shown(policy.id, "bold"), shown(policy.title)]
            + ([shown(policy.source, "dim")] if policy.source else [])
        )
        table.add_row(
            described, policy.severity.value, rollout, policy.each, shown(policy.scope.said())
        )
    console.print(table)

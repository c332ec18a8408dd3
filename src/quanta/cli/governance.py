"""``quanta governance``: the federation's policies over the mesh, and its audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from quanta.cli import HomeOption, JsonOption, _finish, _mesh

governance_app = typer.Typer(
    help=(
        "The mesh's global policies, how each product complies, and the audit log of what "
        "governance decided. The governance folder is QUANTA_GOVERNANCE (default: "
        "governance/ in the home)."
    ),
    no_args_is_help=True,
)


@governance_app.command()
def report(
    html: Annotated[
        Path | None,
        typer.Option("--html", help="Also write the report as one HTML page, to open anywhere."),
    ] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Compliance of every published product with every policy, per domain, product and
    policy (draft policies only for the governance group)."""
    from quanta.cli.output import console, print_json
    from quanta.cli.render_governance import render_compliance
    from quanta.governance.report import to_json
    from quanta.governance.report_html import html_report

    with _mesh(home, as_json, create=False) as mesh:
        compliance, drafts = mesh.governance_report()
    if html is not None:
        written = html_report(compliance, drafts=drafts, title="Governance report")
        html.write_text(written, encoding="utf-8")
    if as_json:
        print_json(to_json(compliance, drafts=drafts))
        return
    render_compliance(console, compliance, drafts)
    if html is not None:
        console.print(f"Wrote {html}: open it in a browser.", highlight=False, markup=False)


@governance_app.command()
def policies(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """The policies in force: the defaults and the governance folder's own."""
    from quanta.cli.output import print_json
    from quanta.cli.render_governance import render_policies

    with _mesh(home, as_json, create=False) as mesh:
        found = mesh.policies()
    if as_json:
        print_json([policy.model_dump(mode="json") | {"source": policy.source} for policy in found])
        return
    render_policies(found)


@governance_app.command("verify-audit")
def verify_audit(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """Check that no entry of the audit log was changed, inserted or deleted."""
    from quanta.cli.output import console, print_json, shown

    with _mesh(home, as_json, create=False) as mesh:
        verified = mesh.verify_audit()
    if as_json:
        print_json(verified)
    elif verified.ok:
        console.print(shown(f"The audit log is intact: {verified.checked} entries verified."))
    else:
        for problem in verified.problems:
            console.print(shown(problem.message, "red"))
    _finish(verified.ok)

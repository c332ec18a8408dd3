"""How compliance is shown: the summaries and JSON of a report, its HTML page (one file, no
network, every team's word escaped) and its terminal form (no markup obeyed)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from collections.abc import Callable
from datetime import date
from html.parser import HTMLParser

import pytest
from rich.console import Console

from quanta.cli.output import PlainConsole
from quanta.cli.render_governance import render_compliance, render_findings, render_policies
from quanta.governance.report import (
    Standing,
    Tally,
    matrix,
    overview,
    per_domain,
    per_policy,
    per_product,
    policies_by_state,
    standing,
    to_json,
    without_drafts,
)
from quanta.governance.report_html import CONTENT_SECURITY_POLICY, SCRIPT, html_report
from quanta.model.governance import (
    Compliance,
    Finding,
    Policy,
    Rollout,
    RolloutState,
    Scope,
    Severity,
)

DAY = date(2025, 6, 1)
SCRIPT_TAG = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'
MARKUP = "[bold red]x[/]"


def policy(
    name: str,
    severity: Severity,
    state: RolloutState = RolloutState.ENFORCED,
    until: date | None = None,
    **fields: object,
) -> Policy:
    values: dict[str, object] = {
        "title": f"title of {name}",
        "rationale": f"why {name}",
        "condition": "true",
        "fix": f"fix {name}",
        **fields,
    }
    return Policy(id=name, severity=severity, rollout=Rollout(state=state, until=until), **values)


def finding(
    of: Policy,
    product: str,
    holds: bool,
    failing: tuple[str, ...] = (),
    error: str | None = None,
    message: str | None = None,
) -> Finding:
    """What an evaluation on DAY finds: the state in force, the deadline of a grace."""
    state = of.rollout.state_on(DAY)
    return Finding(
        policy=of.id,
        product=product,
        domain=product.split(".")[0],
        severity=of.severity,
        state=state,
        until=of.rollout.until if state == RolloutState.GRACE else None,
        holds=holds,
        failing=failing,
        error=error,
        message=message if message is not None else f"{of.title}: {of.fix}",
    )


OWNER = policy("owner-set", Severity.BLOCK)
PII = policy(
    "pii-classified",
    Severity.BLOCK,
    RolloutState.GRACE,
    date(2025, 6, 30),
    each="column",
    scope=Scope(classifications=["pii"]),
)
SLA = policy("sla-declared", Severity.WARN, each="port", scope=Scope(domains=["sales"]))
LINEAGE = policy("lineage-draft", Severity.BLOCK, RolloutState.DRAFT)
RETIRED = policy("grace-over", Severity.BLOCK, RolloutState.GRACE, date(2025, 5, 15))

COMPLIANCE = Compliance(
    day=DAY,
    policies=(OWNER, PII, SLA, LINEAGE, RETIRED),
    findings=(
        finding(OWNER, "sales.orders", True),
        finding(OWNER, "sales.customers", True),
        finding(OWNER, "marketing.attribution", False),
        finding(OWNER, "marketing.campaigns", True),
        finding(
            PII, "sales.customers", False, ("column customers.email", "column customers.phone")
        ),
        finding(PII, "marketing.attribution", True),
        finding(SLA, "sales.orders", False, ("port orders",)),
        finding(SLA, "sales.customers", True),
        finding(LINEAGE, "sales.orders", False),
        finding(LINEAGE, "sales.customers", True),
        finding(LINEAGE, "marketing.attribution", True),
        finding(LINEAGE, "marketing.campaigns", False),
        finding(RETIRED, "sales.orders", True),
        finding(RETIRED, "marketing.campaigns", False, error="no such field: ports"),
    ),
)


# -- the summaries --------------------------------------------------------------------------


def test_each_finding_has_one_standing() -> None:
    table = matrix(COMPLIANCE)
    cell = {
        (product, policy): standing(table.finding(product, policy))
        for product, _domain in table.products
        for policy in table.policies
    }
    assert cell["marketing.attribution", "owner-set"] == Standing.BLOCKING
    assert cell["sales.customers", "pii-classified"] == Standing.GRACE
    assert cell["sales.orders", "sla-declared"] == Standing.FAILING
    assert cell["sales.orders", "lineage-draft"] == Standing.DRAFT
    assert cell["marketing.campaigns", "grace-over"] == Standing.BLOCKING  # grace is over
    assert cell["sales.orders", "owner-set"] == Standing.HELD
    assert cell["marketing.campaigns", "sla-declared"] == Standing.NOT_IN_SCOPE
    assert table.products == (
        ("marketing.attribution", "marketing"),
        ("marketing.campaigns", "marketing"),
        ("sales.customers", "sales"),
        ("sales.orders", "sales"),
    )
    assert table.policies == (
        "owner-set",
        "pii-classified",
        "sla-declared",
        "lineage-draft",
        "grace-over",
    )


def test_overall_numbers() -> None:
    whole = overview(COMPLIANCE)
    assert (whole.policies, whole.products, whole.domains, whole.blocked_products) == (5, 4, 2, 2)
    assert whole.tally == Tally(
        in_scope=14, holding=8, failing=6, blocking=2, warning=2, grace=1, draft=2, errors=1
    )
    assert whole.tally.compliance == 57.1  # 8 of 14, rounded down

    teams = overview(without_drafts(COMPLIANCE))
    assert teams.policies == 4
    assert teams.tally == Tally(
        in_scope=10, holding=6, failing=4, blocking=2, warning=2, grace=1, draft=0, errors=1
    )
    assert teams.tally.compliance == 60.0


def test_compliance_is_rounded_down_and_none_without_findings() -> None:
    assert Tally(in_scope=3, holding=2).compliance == 66.6
    assert Tally(in_scope=10_000, holding=9_999).compliance == 99.9  # never 100 while one fails
    assert Tally().compliance is None


def test_per_policy() -> None:
    summaries = {s.id: s for s in per_policy(COMPLIANCE)}
    assert list(summaries) == [p.id for p in COMPLIANCE.policies]  # as loaded
    assert summaries["owner-set"].tally == Tally(in_scope=4, holding=3, failing=1, blocking=1)
    pii = summaries["pii-classified"]
    assert (pii.state, pii.until) == (RolloutState.GRACE, date(2025, 6, 30))
    assert pii.tally == Tally(in_scope=2, holding=1, failing=1, warning=1, grace=1)
    assert summaries["sla-declared"].tally == Tally(in_scope=2, holding=1, failing=1, warning=1)
    assert summaries["lineage-draft"].tally == Tally(in_scope=4, holding=2, failing=2, draft=2)
    retired = summaries["grace-over"]
    assert (retired.state, retired.until) == (RolloutState.ENFORCED, None)
    assert retired.tally == Tally(in_scope=2, holding=1, failing=1, blocking=1, errors=1)

    by_state = policies_by_state(COMPLIANCE)
    assert [s.id for s in by_state[RolloutState.ENFORCED]] == [
        "owner-set",
        "sla-declared",
        "grace-over",
    ]
    assert [s.id for s in by_state[RolloutState.GRACE]] == ["pii-classified"]
    assert [s.id for s in by_state[RolloutState.DRAFT]] == ["lineage-draft"]


def test_per_domain_and_product() -> None:
    domains = {s.domain: s for s in per_domain(COMPLIANCE)}
    assert list(domains) == ["marketing", "sales"]
    assert (domains["sales"].products, domains["sales"].blocked_products) == (2, 0)
    assert domains["sales"].tally == Tally(
        in_scope=8, holding=5, failing=3, warning=2, grace=1, draft=1
    )
    assert (domains["marketing"].products, domains["marketing"].blocked_products) == (2, 2)
    assert domains["marketing"].tally == Tally(
        in_scope=6, holding=3, failing=3, blocking=2, draft=1, errors=1
    )

    products = {s.product: s for s in per_product(COMPLIANCE)}
    assert products["marketing.attribution"].tally == Tally(
        in_scope=3, holding=2, failing=1, blocking=1
    )
    assert products["marketing.campaigns"].tally == Tally(
        in_scope=3, holding=1, failing=2, blocking=1, draft=1, errors=1
    )
    assert products["sales.customers"].tally == Tally(
        in_scope=4, holding=3, failing=1, warning=1, grace=1
    )
    assert products["sales.orders"].domain == "sales"
    assert products["sales.orders"].tally == Tally(
        in_scope=4, holding=2, failing=2, warning=1, draft=1
    )


# -- JSON -----------------------------------------------------------------------------------

COUNT_KEYS = {
    "in_scope",
    "holding",
    "failing",
    "blocking",
    "warning",
    "grace",
    "draft",
    "errors",
    "compliance",
}


def test_json_shape() -> None:
    report = to_json(COMPLIANCE, drafts=True)
    assert json.loads(json.dumps(report)) == report  # plain JSON values only
    assert set(report) == {"day", "drafts", "policies", "findings", "summary"}
    assert report["day"] == "2025-06-01"
    assert report["drafts"] is True

    pii = report["policies"][1]
    assert pii == {
        "id": "pii-classified",
        "title": "title of pii-classified",
        "rationale": "why pii-classified",
        "fix": "fix pii-classified",
        "severity": "block",
        "state": "grace",
        "until": "2025-06-30",
        "each": "column",
        "scope": {"domains": None, "kinds": None, "classifications": ["pii"], "products": None},
    }
    assert report["policies"][4]["state"] == "enforced"  # on the day: its grace is over
    assert report["policies"][4]["until"] is None

    assert len(report["findings"]) == 14
    grace = next(f for f in report["findings"] if f["standing"] == "grace")
    assert grace == {
        "policy": "pii-classified",
        "product": "sales.customers",
        "domain": "sales",
        "severity": "block",
        "state": "grace",
        "until": "2025-06-30",
        "holds": False,
        "standing": "grace",
        "failing": ["column customers.email", "column customers.phone"],
        "error": None,
        "message": "title of pii-classified: fix pii-classified",
    }
    assert [(f["product"], f["policy"]) for f in report["findings"]][:3] == [
        ("marketing.attribution", "owner-set"),
        ("marketing.attribution", "pii-classified"),
        ("marketing.attribution", "lineage-draft"),
    ]

    summary = report["summary"]
    assert set(summary) == {"overall", "per_policy", "per_domain", "per_product"}
    assert summary["overall"] == {
        "policies": 5,
        "products": 4,
        "domains": 2,
        "blocked_products": 2,
        "in_scope": 14,
        "holding": 8,
        "failing": 6,
        "blocking": 2,
        "warning": 2,
        "grace": 1,
        "draft": 2,
        "errors": 1,
        "compliance": 57.1,
    }
    assert set(summary["per_policy"][0]) == {"policy", "title", "severity", "state", "until"} | (
        COUNT_KEYS
    )
    assert set(summary["per_domain"][0]) == {"domain", "products", "blocked_products"} | (
        COUNT_KEYS
    )
    assert set(summary["per_product"][0]) == {"product", "domain"} | COUNT_KEYS
    assert [d["domain"] for d in summary["per_domain"]] == ["marketing", "sales"]
    assert summary["per_domain"][0]["blocked_products"] == 2
    assert summary["per_product"][3] == {
        "product": "sales.orders",
        "domain": "sales",
        "in_scope": 4,
        "holding": 2,
        "failing": 2,
        "blocking": 0,
        "warning": 1,
        "grace": 0,
        "draft": 1,
        "errors": 0,
        "compliance": 50.0,
    }


def test_json_without_drafts_leaves_them_out() -> None:
    report = to_json(COMPLIANCE, drafts=False)
    assert report["drafts"] is False
    assert "lineage-draft" not in json.dumps(report)
    assert [p["id"] for p in report["policies"]] == [
        "owner-set",
        "pii-classified",
        "sla-declared",
        "grace-over",
    ]
    assert len(report["findings"]) == 10
    assert all(f["standing"] != "draft" for f in report["findings"])
    assert report["summary"]["overall"]["draft"] == 0
    assert report["summary"]["overall"]["compliance"] == 60.0
    orders = next(p for p in report["summary"]["per_product"] if p["product"] == "sales.orders")
    assert (orders["in_scope"], orders["failing"]) == (3, 1)


# -- the HTML page --------------------------------------------------------------------------

VOID = {"meta", "br", "input", "img", "link", "hr", "wbr", "source", "area", "base", "col"}
WRITTEN = {
    *("html", "head", "meta", "title", "style", "script", "body", "header", "main", "footer"),
    *("section", "h1", "h2", "h3", "p", "ul", "li", "dl", "dt", "dd", "strong", "code", "span"),
    *("div", "table", "thead", "tbody", "tr", "th", "td", "a"),
}
"""The elements the page is made of: no hostile text added one."""
LOADING = {"img", "link", "iframe", "object", "embed", "base", "form", "audio", "video"}


class Page(HTMLParser):
    """The page as a browser's parser sees it; every tag must close where it opened."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.doctype = ""
        self.feed(text)
        self.close()
        assert not self.open, self.open

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = [name for name, _ in attrs]
        assert len(names) == len(set(names)), (tag, attrs)
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise AssertionError(f"self-closing <{tag}/> is not HTML5")

    def handle_endtag(self, tag: str) -> None:
        assert self.open, f"</{tag}> closes nothing"
        assert self.open.pop() == tag, f"</{tag}> closes another element"

    def handle_data(self, data: str) -> None:
        where = self.open[-1] if self.open else ""
        if where == "script":
            self.scripts.append(data)
        elif where == "style":
            self.styles.append(data)
        else:
            self.text.append(data)

    def attribute(self, tag: str, name: str) -> list[str | None]:
        return [attrs[name] for t, attrs in self.tags if t == tag and name in attrs]


def assert_loads_nothing(text: str, page: Page) -> None:
    assert page.doctype.lower() == "doctype html"
    for tag, attrs in page.tags:
        assert tag not in LOADING, tag
        assert "src" not in attrs, tag
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        if "href" in attrs:
            assert (attrs["href"] or "").startswith("#"), attrs
    assert "url(" not in "".join(page.styles)
    assert "@import" not in "".join(page.styles)
    [content] = page.attribute("meta", "content")[:1]  # the policy comes first
    assert page.attribute("meta", "http-equiv") == ["Content-Security-Policy"]
    assert content == CONTENT_SECURITY_POLICY
    assert content.startswith("default-src 'none'; style-src 'unsafe-inline'; script-src ")
    assert page.scripts == [SCRIPT]
    digest = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}';" in content
    assert "'unsafe-eval'" not in content


def test_html_is_one_document_that_loads_nothing() -> None:
    text = html_report(COMPLIANCE, drafts=True)
    page = Page(text)
    assert_loads_nothing(text, page)
    assert "http://" not in text
    assert "https://" not in text
    assert "src=" not in text
    [html_tag] = [attrs for tag, attrs in page.tags if tag == "html"]
    assert html_tag == {"lang": "en"}


def test_html_shows_the_summary_matrix_and_each_policy() -> None:
    page = Page(html_report(COMPLIANCE, drafts=True, title="Retail mesh"))
    words = " ".join(" ".join(page.text).split())
    assert "Retail mesh" in words
    assert "57.1 %" in words  # overall compliance
    assert "2 blocking" in words
    assert "grace until 2025-06-30" in words
    assert "not in scope" in words
    for state in ("held", "failing", "blocking", "draft"):
        assert state in words
    assert "column customers.email" in words  # a failing finding's subjects
    assert "fix pii-classified" in words  # and its fix
    assert "could not be evaluated: no such field: ports" in words
    assert "lineage-draft" in words
    # The matrix: one row per product, one cell per policy.
    rows = [
        attrs["data-product"] for tag, attrs in page.tags if tag == "tr" and "data-product" in attrs
    ]
    assert rows[:4] == [
        "marketing.attribution",
        "marketing.campaigns",
        "sales.customers",
        "sales.orders",
    ]
    # A failing cell links to its policy's section.
    sections = {attrs.get("id") for tag, attrs in page.tags if tag == "section"}
    links = {attrs.get("href") or "" for tag, attrs in page.tags if tag == "a"}
    assert links
    assert {link[1:] for link in links} <= sections


def test_html_without_drafts_leaves_them_out() -> None:
    text = html_report(COMPLIANCE, drafts=False)
    assert "lineage-draft" not in text
    words = " ".join(" ".join(Page(text).text).split())
    assert "60.0 %" in words
    assert "Draft policies are left out." in words


HOSTILE_POLICY = policy(
    "hostile",
    Severity.BLOCK,
    title=f"{SCRIPT_TAG} {ATTRIBUTE} {MARKUP}",
    rationale=f"{ATTRIBUTE} </style></table>",
    fix=f"{SCRIPT_TAG} &amp; {MARKUP}",
    scope=Scope(domains=[ATTRIBUTE]),
)
HOSTILE_PRODUCT = f"evil.{ATTRIBUTE}"
HOSTILE = Compliance(
    day=DAY,
    policies=(HOSTILE_POLICY, OWNER),
    findings=(
        finding(
            HOSTILE_POLICY,
            HOSTILE_PRODUCT,
            False,
            (f"column {SCRIPT_TAG}", f"port {ATTRIBUTE}", f"column {MARKUP} \x1b[2J"),
            message=f"{MARKUP} {SCRIPT_TAG}",
        ),
        finding(OWNER, HOSTILE_PRODUCT, False, error=f"{SCRIPT_TAG} {ATTRIBUTE}"),
    ),
)


def test_html_escapes_every_value_of_the_teams() -> None:
    text = html_report(HOSTILE, drafts=True, title=f"{SCRIPT_TAG}{ATTRIBUTE}")
    page = Page(text)
    assert_loads_nothing(text, page)
    assert SCRIPT_TAG not in text
    assert "<img" not in text
    assert ATTRIBUTE not in text
    assert "</style></table>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in text
    # The parser reads the characters back as text (and attribute values), never as tags.
    words = "".join(page.text)
    for hostile in (SCRIPT_TAG, ATTRIBUTE, "</style></table>", "&amp;", MARKUP):
        assert hostile in words
    assert {tag for tag, _ in page.tags} <= WRITTEN
    assert page.attribute("tr", "data-product")[0] == HOSTILE_PRODUCT
    # A control character shows as its escape, as on the terminal.
    assert "\x1b" not in text
    assert f"column {MARKUP} \\x1b[2J" in words
    assert f"{SCRIPT_TAG}{ATTRIBUTE} (2025-06-01)" in words  # the <title>


# -- the terminal ---------------------------------------------------------------------------


def markup_console() -> tuple[Console, io.StringIO]:
    """A plain Rich console, markup on: what is shown must not rely on PlainConsole."""
    out = io.StringIO()
    return Console(file=out, width=300, color_system=None), out


def test_findings_of_a_product_blocking_first_drafts_never() -> None:
    console, out = markup_console()
    render_findings(console, [f for f in COMPLIANCE.findings if f.product == "sales.orders"])
    lines = out.getvalue().splitlines()
    assert lines == [
        "warning sla-declared: port orders",
        "    title of sla-declared: fix sla-declared",
    ]

    console, out = markup_console()
    render_findings(
        console,
        [
            finding(SLA, "sales.customers", False, ("port customers",)),
            *(f for f in COMPLIANCE.findings if f.product == "sales.customers"),
            finding(OWNER, "sales.customers", False),
        ],
    )
    lines = out.getvalue().splitlines()
    assert lines == [
        "blocking owner-set: the product",
        "    title of owner-set: fix owner-set",
        "grace until 2025-06-30 pii-classified: column customers.email, column customers.phone",
        "    title of pii-classified: fix pii-classified",
        "warning sla-declared: port customers",
        "    title of sla-declared: fix sla-declared",
    ]


def test_findings_that_all_hold_print_nothing() -> None:
    console, out = markup_console()
    render_findings(console, [f for f in COMPLIANCE.findings if f.holds])
    assert out.getvalue() == ""


def plain_console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return PlainConsole(file=out, width=300, color_system=None), out


@pytest.mark.parametrize("make", [markup_console, plain_console])
def test_terminal_shows_markup_literally(make: Callable[[], tuple[Console, io.StringIO]]) -> None:
    console, out = make()
    render_findings(console, HOSTILE.findings)
    render_compliance(console, HOSTILE, drafts=True)
    render_policies(HOSTILE.policies, console)
    shown = out.getvalue()
    assert f"column {MARKUP} \\x1b[2J" in shown
    assert f"{MARKUP} {SCRIPT_TAG}" in shown  # the message
    assert f"could not be evaluated: {SCRIPT_TAG} {ATTRIBUTE}" in shown
    assert MARKUP in shown.split("per policy")[1]  # the title, in the policies' table
    assert f"domains: {ATTRIBUTE}" in shown.rsplit("severity", 1)[1]  # the policies as written
    assert "\x1b" not in shown


def test_compliance_tables() -> None:
    console, out = markup_console()
    render_compliance(console, COMPLIANCE, drafts=True)
    shown = out.getvalue()
    assert shown.startswith(
        "Compliance on 2025-06-01: 57.1% of 14 findings hold (5 policies, 4 products); "
        "2 blocking in 2 products, 2 warnings (1 in grace), 2 failing drafts."
    )
    for title in ("per domain", "per product", "per policy", "failing"):
        assert title in shown
    assert "grace until 2025-06-30" in shown
    assert "lineage-draft" in shown

    console, out = markup_console()
    render_compliance(console, COMPLIANCE, drafts=False)
    shown = out.getvalue()
    assert "lineage-draft" not in shown
    assert "draft" not in shown
    assert "60.0% of 10 findings hold" in shown


def test_policies_as_written() -> None:
    console, out = markup_console()
    render_policies([OWNER, PII.model_copy(update={"source": "policies/pii.yaml:3"})], console)
    shown = out.getvalue()
    assert "grace until 2025-06-30" in shown
    assert "classifications: pii" in shown
    assert "every product" in shown
    assert "policies/pii.yaml:3" in shown

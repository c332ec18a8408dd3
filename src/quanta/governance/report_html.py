"""The compliance report as one HTML page that opens from a file, with no server and no
network: its style and its one small script are inline, and its Content-Security-Policy
lets the browser load nothing at all. Without JavaScript every table is there; the script
only adds sorting and a filter.

Titles, rationales, fixes, product ids, subjects and error messages are written by the
teams, so the page is built from `_element`, which escapes every string it is given;
only what this module wrote itself (`_Html`) goes in as it is.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Iterable
from datetime import date

from quanta.governance.report import (
    Matrix,
    PolicySummary,
    Standing,
    Tally,
    failing_findings,
    matrix,
    overview,
    per_domain,
    per_policy,
    per_product,
    policy_state,
    policy_until,
    standing,
    subjects,
    without_drafts,
)
from quanta.model.governance import Compliance, Finding, Policy

__all__ = ["CONTENT_SECURITY_POLICY", "SCRIPT", "html_report"]


class _Html(str):
    """Markup this module wrote. Any other string given to `_element` is text."""

    __slots__ = ()


_Node = _Html | str | int | None | Iterable["_Node"]
_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
_VOID = frozenset({"meta", "br"})


# Control characters but tab and newline (a parse error in HTML, and meaningless on a
# page), and the marks that reorder text: each is written as its escape, "\x1b".
_CONTROL_CODES = [*range(0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0), 0x061C, 0x200E, 0x200F]
_CONTROL_CODES += [0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xFEFF]
_CONTROLS = {
    code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" for code in _CONTROL_CODES
}


def _text(value: object) -> _Html:
    return _Html(html.escape(str(value).translate(_CONTROLS), quote=True))


def _many(count: int, one: str, many: str = "") -> str:
    return str(count) + " " + (one if count == 1 else many or one + "s")


def _flatten(node: _Node) -> Iterable[str]:
    if node is None:
        return
    if isinstance(node, _Html):
        yield node
    elif isinstance(node, str | int):
        yield _text(node)
    else:
        for child in node:
            yield from _flatten(child)


def _element(tag: str, *children: _Node, **attributes: str | int | None) -> _Html:
    """``<tag attributes>children</tag>``: an attribute ``class_`` is ``class``, ``data_x``
    is ``data-x``; one set to None is left out; every value and child string is escaped."""
    assert _NAME.match(tag), tag
    parts = ["<", tag]
    for key, value in attributes.items():
        if value is None:
            continue
        name = key.rstrip("_").replace("_", "-")
        assert _NAME.match(name), name
        parts += [" ", name, '="', _text(value), '"']
    parts.append(">")
    if tag in _VOID:
        assert not children, tag
        return _Html("".join(parts))
    parts += _flatten(children)
    parts += ["</", tag, ">"]
    return _Html("".join(parts))


# -- what the page carries ------------------------------------------------------------------

STYLE = """
:root { color-scheme: light dark; --fg: #1b1f24; --bg: #fff; --muted: #5b6470;
  --line: #d5dae0; --head: #f3f5f7; --held: #1a7f37; --held-bg: #dff3e4; --fail: #9a6700;
  --fail-bg: #fff4d4; --block: #b42318; --block-bg: #fde4e1; --draft: #6639ba;
  --draft-bg: #efe7fb; --none: #8a929c; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e8eb; --bg: #15181c; --muted: #9aa3ad;
  --line: #343a42; --head: #1e2227; --held: #4ac26b; --held-bg: #16331f; --fail: #e3b341;
  --fail-bg: #3a2e0c; --block: #ff7b72; --block-bg: #42181a; --draft: #c297ff;
  --draft-bg: #2d1e47; --none: #6e7681; } }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 80rem; padding: 1.5rem; color: var(--fg);
  background: var(--bg); font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
h1 { margin: 0 0 .25rem; font-size: 1.6rem; }
h2 { margin: 2.25rem 0 .75rem; font-size: 1.25rem; border-bottom: 1px solid var(--line); }
h3 { margin: 0 0 .5rem; font-size: 1.05rem; }
p, dl { margin: .4rem 0; }
code { font: .9em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.muted, .not-in-scope { color: var(--muted); }
.cards { display: flex; flex-wrap: wrap; gap: .75rem; margin: 1rem 0; padding: 0; }
.cards li { list-style: none; min-width: 9rem; padding: .6rem .9rem; border: 1px solid
  var(--line); border-radius: .5rem; }
.cards strong { display: block; font-size: 1.6rem; line-height: 1.2; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { padding: .3rem .6rem; border: 1px solid var(--line); text-align: left;
  vertical-align: top; }
thead th { background: var(--head); position: sticky; top: 0; }
th[data-sortable] { cursor: pointer; }
th[aria-sort=ascending]::after { content: " \\25B2"; }
th[aria-sort=descending]::after { content: " \\25BC"; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
.matrix td.cell { text-align: center; white-space: nowrap; }
.held { color: var(--held); background: var(--held-bg); }
.failing, .grace { color: var(--fail); background: var(--fail-bg); }
.blocking { color: var(--block); background: var(--block-bg); font-weight: 600; }
.draft { color: var(--draft); background: var(--draft-bg); }
td.not-in-scope { color: var(--none); font-size: .85em; }
.badge { display: inline-block; padding: 0 .4rem; border-radius: .3rem; font-size: .85em; }
.legend { padding: 0; } .legend li { display: inline-block; margin: 0 .75rem .25rem 0; }
section.policy { margin: 1rem 0 1.5rem; padding: .75rem 1rem; border: 1px solid var(--line);
  border-radius: .5rem; }
section.policy dt { float: left; clear: left; width: 7rem; color: var(--muted); }
section.policy dd { margin: 0 0 .2rem 7.5rem; }
ul.subjects { margin: 0; padding-left: 1.1rem; }
.error { color: var(--block); }
.filters { display: flex; gap: 1rem; align-items: center; margin: .5rem 0; }
.filters input[type=search] { padding: .3rem .5rem; min-width: 16rem; }
a { color: inherit; }
@media print { thead th { position: static; } .filters { display: none; } }
"""

SCRIPT = """
(function () {
  "use strict";
  function key(cell) {
    var value = cell.getAttribute("data-sort");
    return value === null ? cell.textContent.trim().toLowerCase() : value;
  }
  function compare(a, b) {
    var number = /^-?[0-9]+([.][0-9]+)?$/;
    if (number.test(a) && number.test(b)) { return parseFloat(a) - parseFloat(b); }
    return a < b ? -1 : a > b ? 1 : 0;
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var body = table.tBodies[0];
    table.querySelectorAll("thead th").forEach(function (header, column) {
      header.setAttribute("data-sortable", "");
      header.tabIndex = 0;
      function sort() {
        var up = header.getAttribute("aria-sort") !== "ascending";
        table.querySelectorAll("thead th").forEach(function (other) {
          other.removeAttribute("aria-sort");
        });
        header.setAttribute("aria-sort", up ? "ascending" : "descending");
        Array.prototype.slice.call(body.rows).sort(function (r, s) {
          var order = compare(key(r.cells[column]), key(s.cells[column]));
          return up ? order : -order;
        }).forEach(function (row) { body.appendChild(row); });
      }
      header.addEventListener("click", sort);
      header.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sort(); }
      });
    });
  });
  var place = document.getElementById("filters");
  if (!place) { return; }
  var box = document.createElement("input");
  box.type = "search";
  box.placeholder = "Filter products and domains";
  box.setAttribute("aria-label", "Filter products and domains");
  var only = document.createElement("input");
  only.type = "checkbox";
  var label = document.createElement("label");
  label.appendChild(only);
  label.appendChild(document.createTextNode(" only products that fail a policy"));
  place.appendChild(box);
  place.appendChild(label);
  function apply() {
    var text = box.value.trim().toLowerCase();
    document.querySelectorAll("tr[data-product]").forEach(function (row) {
      var match = row.getAttribute("data-product").toLowerCase().indexOf(text) !== -1 ||
        row.getAttribute("data-domain").toLowerCase().indexOf(text) !== -1;
      var failing = row.getAttribute("data-failing") === "1";
      row.hidden = !match || (only.checked && !failing);
    });
  }
  box.addEventListener("input", apply);
  only.addEventListener("change", apply);
})();
"""

_SCRIPT_HASH = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; "
    f"script-src 'sha256-{_SCRIPT_HASH}'; base-uri 'none'; form-action 'none'"
)
"""Nothing may be loaded: no image, font, frame, fetch or other script; the inline style,
and the script whose hash this is, only."""

# -- the parts of the page ------------------------------------------------------------------


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} %"


def _sort_percent(value: float | None) -> str:
    return "-1" if value is None else str(value)


def _number(value: int, tag: str = "td") -> _Html:
    return _element(tag, str(value), class_="number", data_sort=str(value))


def _label(where: Standing, until: date | None) -> str:
    if where == Standing.GRACE and until is not None:
        return "grace until " + until.isoformat()
    return where.value.replace("-", " ")


def _badge(where: Standing, until: date | None = None) -> _Html:
    return _element("span", _label(where, until), class_="badge " + where.value)


def _table(headers: Iterable[str], rows: Iterable[_Html], **attributes: str | None) -> _Html:
    head = _element("thead", _element("tr", (_element("th", h, scope="col") for h in headers)))
    return _element(
        "div", _element("table", head, _element("tbody", rows), **attributes), class_="scroll"
    )


def _card(value: str, what: str, style: str | None = None) -> _Html:
    return _element("li", _element("strong", value), what, class_=style)


def _summary(compliance: Compliance, drafts: bool) -> _Html:
    whole = overview(compliance)
    counts = whole.tally
    cards = [
        _card(
            _percent(counts.compliance), "of findings hold", "failing" if counts.failing else "held"
        ),
        _card(str(counts.blocking), "blocking", "blocking" if counts.blocking else None),
        _card(
            str(whole.blocked_products),
            "products blocked from publishing",
            "blocking" if whole.blocked_products else None,
        ),
        _card(
            str(counts.warning),
            "warnings, " + str(counts.grace) + " in grace",
            "grace" if counts.warning else None,
        ),
    ]
    if drafts:
        cards.append(_card(str(counts.draft), "failing draft policies", "draft"))
    cards.append(_card(str(counts.errors), "could not be evaluated"))
    said = (
        _many(whole.policies, "policy", "policies")
        + " over "
        + _many(whole.products, "product")
        + " in "
        + _many(whole.domains, "domain")
        + ": "
        + _many(counts.in_scope, "finding")
        + ", "
        + str(counts.holding)
        + " hold, "
        + str(counts.failing)
        + " fail."
    )
    shown = (
        "Draft policies are included: this page is for the governance group."
        if drafts
        else "Draft policies are left out."
    )
    return _element(
        "section",
        _element("ul", cards, class_="cards"),
        _element("p", said),
        _element("p", shown, class_="muted"),
        aria_label="summary",
    )


def _counts(counts: Tally, drafts: bool) -> list[_Html]:
    cells = [
        _number(counts.in_scope),
        _number(counts.holding),
        _number(counts.failing),
        _number(counts.blocking),
        _number(counts.warning),
    ]
    if drafts:
        cells.append(_number(counts.draft))
    cells.append(
        _element(
            "td",
            _percent(counts.compliance),
            class_="number",
            data_sort=_sort_percent(counts.compliance),
        )
    )
    return cells


def _count_headers(drafts: bool) -> list[str]:
    return [
        "in scope",
        "holding",
        "failing",
        "blocking",
        "warning",
        *(["draft"] if drafts else []),
        "compliance",
    ]


def _domains(compliance: Compliance, drafts: bool) -> _Html:
    rows = [
        _element(
            "tr",
            _element("th", s.domain, scope="row"),
            _number(s.products),
            _number(s.blocked_products),
            _counts(s.tally, drafts),
        )
        for s in per_domain(compliance)
    ]
    return _element(
        "section",
        _element("h2", "Domains"),
        _table(["domain", "products", "blocked", *_count_headers(drafts)], rows, class_="sortable"),
        id="domains",
    )


def _anchor(index: int) -> str:
    return "policy-" + str(index + 1)


_RANK = {
    Standing.BLOCKING: 0,
    Standing.GRACE: 1,
    Standing.FAILING: 2,
    Standing.DRAFT: 3,
    Standing.HELD: 4,
    Standing.NOT_IN_SCOPE: 5,
}
"""How a column of standings sorts: what stops a publish first."""


def _cell(found: Finding | None, anchor: str) -> _Html:
    where = standing(found)
    label = _label(where, found.until if found else None)
    rank = str(_RANK[where])
    if found is None or found.holds:
        return _element("td", label, class_="cell " + where.value, data_sort=rank)
    what = "; ".join(subjects(found)) if found.error is None else "error: " + found.error
    return _element(
        "td",
        _element("a", label, href="#" + anchor),
        class_="cell " + where.value,
        title=what,
        data_sort=rank,
    )


def _matrix(compliance: Compliance, table: Matrix, drafts: bool) -> _Html:
    anchors = {policy: _anchor(i) for i, policy in enumerate(table.policies)}
    titles = {policy.id: policy.title for policy in compliance.policies}
    products = {s.product: s.tally for s in per_product(compliance)}
    headers = _element(
        "tr",
        _element("th", "product", scope="col"),
        _element("th", "domain", scope="col"),
        _element("th", "compliance", scope="col"),
        (
            _element("th", _element("code", policy), scope="col", title=titles.get(policy))
            for policy in table.policies
        ),
    )
    rows = []
    for product, domain in table.products:
        counts = products[product]
        rows.append(
            _element(
                "tr",
                _element("th", product, scope="row"),
                _element("td", domain),
                _element(
                    "td",
                    _percent(counts.compliance),
                    class_="number",
                    data_sort=_sort_percent(counts.compliance),
                ),
                (
                    _cell(table.finding(product, policy), anchors[policy])
                    for policy in table.policies
                ),
                data_product=product,
                data_domain=domain,
                data_failing="1" if counts.failing else "0",
            )
        )
    legend = [
        _element("li", _badge(where)) for where in Standing if drafts or where != Standing.DRAFT
    ]
    return _element(
        "section",
        _element("h2", "Products and policies"),
        _element("div", id="filters", class_="filters"),
        _element("ul", legend, class_="legend", aria_label="legend"),
        _element(
            "div",
            _element(
                "table",
                _element("thead", headers),
                _element("tbody", rows),
                class_="matrix sortable",
            ),
            class_="scroll",
        ),
        id="matrix",
    )


def _policies(compliance: Compliance, drafts: bool) -> _Html:
    rows = [
        _element(
            "tr",
            _element(
                "th", _element("a", _element("code", s.id), href="#" + _anchor(i)), scope="row"
            ),
            _element("td", s.title),
            _element("td", s.severity.value),
            _element("td", _state(s)),
            _counts(s.tally, drafts),
        )
        for i, s in enumerate(per_policy(compliance))
    ]
    headers = ["policy", "title", "severity", "state", *_count_headers(drafts)]
    return _element(
        "section",
        _element("h2", "Policies"),
        _table(headers, rows, class_="sortable"),
        id="policies",
    )


def _state(summary: PolicySummary) -> str:
    if summary.until is not None:
        return summary.state.value + " until " + summary.until.isoformat()
    return summary.state.value


def _finding_row(found: Finding) -> _Html:
    where = standing(found)
    failing: _Node
    if found.error is not None:
        failing = _element("span", "could not be evaluated: " + found.error, class_="error")
    else:
        failing = _element(
            "ul", (_element("li", _element("code", s)) for s in subjects(found)), class_="subjects"
        )
    return _element(
        "tr",
        _element("th", found.product, scope="row"),
        _element("td", found.domain),
        _element("td", _badge(where, found.until), data_sort=str(_RANK[where])),
        _element("td", failing),
        data_product=found.product,
        data_domain=found.domain,
        data_failing="1",
    )


def _policy(compliance: Compliance, index: int, policy: Policy, summary: PolicySummary) -> _Html:
    day = compliance.day
    state = policy_state(policy, day)
    until = policy_until(policy, day)
    failing = failing_findings(compliance, policy.id)
    counts = summary.tally
    details = _element(
        "dl",
        _element("dt", "why"),
        _element("dd", policy.rationale),
        _element("dt", "fix"),
        _element("dd", policy.fix),
        _element("dt", "scope"),
        _element("dd", policy.scope.said()),
        _element("dt", "judges each"),
        _element("dd", policy.each),
        _element("dt", "state"),
        _element(
            "dd",
            policy.severity.value,
            ", ",
            state.value,
            None if until is None else " until " + until.isoformat(),
        ),
    )
    said = (
        _many(counts.in_scope, "product")
        + " in scope, "
        + str(counts.holding)
        + " hold, "
        + str(counts.failing)
        + " fail."
    )
    if not counts.in_scope:
        body: _Html = _element("p", "No product is in scope.", class_="muted")
    elif not failing:
        body = _element("p", "Holds for every product in scope.", class_="held badge")
    else:
        body = _table(
            ["product", "domain", "standing", "what fails"],
            (_finding_row(f) for f in failing),
            class_="sortable",
        )
    return _element(
        "section",
        _element("h3", _element("code", policy.id), " ", policy.title),
        details,
        _element("p", said),
        body,
        id=_anchor(index),
        class_="policy",
    )


def _policy_sections(compliance: Compliance) -> _Html:
    summaries = {s.id: s for s in per_policy(compliance)}
    policies = {policy.id: policy for policy in compliance.policies}
    order = matrix(compliance).policies  # the anchors the matrix links to
    return _element(
        "section",
        _element("h2", "Each policy"),
        (
            _policy(compliance, i, policies[policy_id], summaries[policy_id])
            for i, policy_id in enumerate(order)
            if policy_id in policies
        ),
        id="each-policy",
    )


def html_report(
    compliance: Compliance, *, drafts: bool, title: str = "Governance compliance"
) -> str:
    """The report as one self-contained HTML5 document. ``drafts=False`` leaves out draft
    policies and their findings (they are for the governance group only)."""
    if not drafts:
        compliance = without_drafts(compliance)
    head = _element(
        "head",
        _element("meta", charset="utf-8"),
        _element("meta", http_equiv="Content-Security-Policy", content=CONTENT_SECURITY_POLICY),
        _element("meta", name="referrer", content="no-referrer"),
        _element("meta", name="viewport", content="width=device-width, initial-scale=1"),
        _element("meta", name="color-scheme", content="light dark"),
        _element("meta", name="generator", content="Quanta"),
        _element("title", title, " (", compliance.day.isoformat(), ")"),
        _element("style", _Html(STYLE)),
    )
    body = _element(
        "body",
        _element(
            "header",
            _element("h1", title),
            _element("p", "Compliance on ", compliance.day.isoformat(), ".", class_="muted"),
        ),
        _element(
            "main",
            _summary(compliance, drafts),
            _domains(compliance, drafts),
            _matrix(compliance, matrix(compliance), drafts),
            _policies(compliance, drafts),
            _policy_sections(compliance),
        ),
        _element(
            "footer",
            "Written by Quanta. Sorting and filtering need JavaScript; "
            "everything else is readable without it.",
            class_="muted",
        ),
        _element("script", _Html(SCRIPT)),
    )
    return "<!DOCTYPE html>\n" + _element("html", head, body, lang="en") + "\n"

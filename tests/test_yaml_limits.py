"""Hostile YAML is refused at its line, and ordinary YAML loads as `yaml.safe_load` loads it.

Product files come from users: an alias bomb, a recursive alias, brackets nested a million
deep or a file of megabytes must each end in one issue (or one UserError on import), never
in a hang or a RecursionError. Without the limits, the nine-level alias bomb below does not
finish, and the deep brackets end in a traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from quanta.errors import UserError
from quanta.mesh import Mesh
from quanta.model.result import Issue
from quanta.validation import yaml_lines
from quanta.validation.yaml_lines import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    YamlProblem,
    load_located,
)

DESCRIPTOR = "finance/targets/dataproduct.yaml"
CONTRACT = "finance/targets/contracts/targets.odcs.yaml"
ALIASES = "YAML anchors and aliases (&name, *name) are not allowed in Quanta's files"
TOO_DEEP = f"mappings and lists are nested more than {MAX_DEPTH} levels deep here"


@pytest.fixture(params=["libyaml", "python"])
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test with it runs with PyYAML's C parser and again with the pure-Python fallback."""
    if request.param == "libyaml":
        if not yaml.__with_libyaml__:
            pytest.skip("PyYAML is installed without libyaml")
    else:
        monkeypatch.setattr(yaml_lines, "_LOADER", yaml_lines._PythonLoader)
    return str(request.param)


def laughs(levels: int = 9) -> str:
    """A 'billion laughs': each level is nine aliases of the one before, 9**levels in all."""
    text = f"lol0: &lol0 [{', '.join(['lol'] * 9)}]\n"
    for level in range(1, levels):
        text += f"lol{level}: &lol{level} [{', '.join([f'*lol{level - 1}'] * 9)}]\n"
    return text


def line_of(path: Path, start: str) -> int:
    """The 1-based number of the one line that starts with ``start``."""
    found = [
        number
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if line.startswith(start)
    ]
    assert len(found) == 1, f"{start!r} starts lines {found} of {path}"
    return found[0]


def only_issue(mesh: Mesh, folder: Path) -> Issue:
    (validation,) = mesh.validate(folder)
    assert len(validation.issues) == 1, [issue.model_dump() for issue in validation.issues]
    return validation.issues[0]


def rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is written {text.count(old)} times in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# Validating a product folder


def test_a_billion_laughs_in_the_descriptor_is_one_issue_at_the_first_anchor(
    mesh: Mesh, source_product: Path
) -> None:
    descriptor = source_product / "dataproduct.yaml"
    rewrite(descriptor, "tags:\n", laughs() + "tags:\n")
    written = descriptor.read_bytes()

    issue = only_issue(mesh, source_product)

    assert issue.file == DESCRIPTOR
    assert issue.line == line_of(descriptor, "lol0: &lol0")
    assert issue.field == "lol0"
    assert issue.message.startswith(ALIASES)
    assert issue.message.endswith(": write the value out in full")
    assert descriptor.read_bytes() == written
    assert mesh.products() == []


def test_a_billion_laughs_in_a_contract_is_one_issue_in_that_contract(
    mesh: Mesh, source_product: Path
) -> None:
    contract = source_product / "contracts" / "targets.odcs.yaml"
    rewrite(contract, "slaProperties:\n", laughs() + "slaProperties:\n")

    issue = only_issue(mesh, source_product)

    assert issue.file == CONTRACT
    assert issue.line == line_of(contract, "lol0: &lol0")
    assert issue.message.startswith(ALIASES)


def test_an_alias_is_refused_where_it_is_even_without_its_anchor_in_the_file(
    mesh: Mesh, source_product: Path
) -> None:
    descriptor = source_product / "dataproduct.yaml"
    rewrite(descriptor, "status: active\n", "status: *state\n")

    issue = only_issue(mesh, source_product)

    assert issue.line == line_of(descriptor, "status: *state")
    assert issue.field == "status"
    assert "*state" in issue.message


def test_a_recursive_alias_is_an_issue_not_a_recursion_error(
    mesh: Mesh, source_product: Path
) -> None:
    descriptor = source_product / "dataproduct.yaml"
    rewrite(descriptor, "tags:\n- source\n", "tags: &tags [*tags]\n")

    issue = only_issue(mesh, source_product)

    assert issue.line == line_of(descriptor, "tags: &tags")
    assert issue.message.startswith(ALIASES)


@pytest.mark.parametrize("depth", [50_000, 1_000_000])
def test_brackets_nested_without_end_are_one_issue_at_their_line(
    mesh: Mesh, source_product: Path, depth: int
) -> None:
    descriptor = source_product / "dataproduct.yaml"
    rewrite(descriptor, "tags:\n- source\n", f"tags: {'[' * depth}\n")
    assert descriptor.stat().st_size <= MAX_FILE_BYTES  # the depth limit must answer, not size

    issue = only_issue(mesh, source_product)

    assert issue.file == DESCRIPTOR
    assert issue.line == line_of(descriptor, "tags: [[[")
    assert issue.message.startswith(TOO_DEEP)


def test_mappings_nested_too_deep_are_refused_where_the_limit_is_passed(
    mesh: Mesh, source_product: Path
) -> None:
    descriptor = source_product / "dataproduct.yaml"
    nested = "".join(f"{'  ' * (level + 1)}level{level}:\n" for level in range(200))
    rewrite(descriptor, "description:\n", f"description:\n{nested}")

    issue = only_issue(mesh, source_product)

    # The root mapping is level 1, description's value level 2, level62's value level 65:
    # a mapping starts at its first key, level63.
    assert issue.line == line_of(descriptor, f"{'  ' * 64}level63:")
    assert issue.field == ".".join(["description", *(f"level{n}" for n in range(63))])
    assert issue.message.startswith(TOO_DEEP)


def test_a_file_over_one_mebibyte_is_refused_by_its_size_before_it_is_parsed(
    mesh: Mesh, source_product: Path
) -> None:
    descriptor = source_product / "dataproduct.yaml"
    # Parsed, this would be an alias issue at line 1: the size answers first.
    head = "tags: &tags [*tags]\n"
    descriptor.write_text(head + "#" * (2 * 1024 * 1024 - len(head) - 1) + "\n")

    issue = only_issue(mesh, source_product)

    assert issue.file == DESCRIPTOR
    assert issue.line is None
    assert issue.message == (
        "the file is 2,097,152 bytes, over the limit of 1,048,576 bytes (1 MiB) "
        "for Quanta's files: make it smaller"
    )
    assert issue.hint == "product descriptors and contracts are short: split the file or trim it"


def test_a_file_of_exactly_the_limit_still_loads(mesh: Mesh, source_product: Path) -> None:
    descriptor = source_product / "dataproduct.yaml"
    text = descriptor.read_text(encoding="utf-8")
    descriptor.write_text(text + "#" * (MAX_FILE_BYTES - len(text.encode()) - 1) + "\n")
    assert descriptor.stat().st_size == MAX_FILE_BYTES

    (validation,) = mesh.validate(source_product)
    assert validation.issues == []

    descriptor.write_text(descriptor.read_text(encoding="utf-8") + "#")
    assert only_issue(mesh, source_product).message.startswith("the file is 1,048,577 bytes")


def test_a_value_python_cannot_build_is_an_issue_at_its_line(
    mesh: Mesh, source_product: Path
) -> None:
    descriptor = source_product / "dataproduct.yaml"
    rewrite(descriptor, "status: active\n", "status: active\ncreated: 2024-13-45\n")

    issue = only_issue(mesh, source_product)

    assert issue.line == line_of(descriptor, "created: 2024-13-45")
    assert issue.message.startswith("this is not valid YAML: cannot read '2024-13-45'")
    assert issue.message.endswith(": quote it if it is text")


def test_a_second_document_is_refused_at_its_start(mesh: Mesh, source_product: Path) -> None:
    descriptor = source_product / "dataproduct.yaml"
    rewrite(descriptor, "tags:\n", "---\ntags:\n")

    issue = only_issue(mesh, source_product)

    assert issue.line == line_of(descriptor, "---")
    assert issue.message.startswith("this file holds more than one YAML document: keep one")


# ---------------------------------------------------------------------------------------------
# Importing a contract


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("apiVersion: v3.1.0\nkind: DataContract\n" + laughs(), 3, ALIASES),
        ("apiVersion: v3.1.0\nschema: &schema [*schema]\n", 2, ALIASES),
        ("apiVersion: v3.1.0\nschema: " + "[" * 1_000_000 + "\n", 2, TOO_DEEP),
        (
            "apiVersion: v3.1.0\nschema:\n"
            + "".join(f"{'  ' * level}- level{level}:\n" for level in range(1, 100)),
            # The root mapping, then per line a sequence and its item's mapping: the item's
            # mapping on line 34 is level 65.
            34,
            TOO_DEEP,
        ),
    ],
    ids=["billion-laughs", "recursive-alias", "a-million-brackets", "deep-blocks"],
)
def test_an_imported_contract_is_refused_at_its_line_and_nothing_is_written(
    mesh: Mesh, tmp_path: Path, text: str, line: int, message: str
) -> None:
    source = tmp_path / "shop.odcs.yaml"
    source.write_text(text, encoding="utf-8")

    with pytest.raises(UserError) as raised:
        mesh.import_contract(source, tmp_path / "out")

    assert str(raised.value).startswith(f"{source}: line {line}: {message}")
    assert not (tmp_path / "out").exists()


def test_an_imported_contract_over_the_limit_is_refused_by_size(mesh: Mesh, tmp_path: Path) -> None:
    source = tmp_path / "shop.odcs.yaml"
    source.write_text("apiVersion: v3.1.0\n" + "#" * (2 * 1024 * 1024) + "\n", encoding="utf-8")

    with pytest.raises(UserError) as raised:
        mesh.import_contract(source, tmp_path / "out")

    assert str(raised.value).startswith(f"{source}: the file is 2,097,172 bytes, over the limit")
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------
# The loader itself, with libyaml and with the pure-Python fallback


@pytest.mark.parametrize(
    "text",
    ["&a [*a]", "&a {key: *a}", laughs(), "- *undefined\n"],
    ids=["recursive-sequence", "recursive-mapping", "billion-laughs", "undefined-alias"],
)
def test_the_loader_refuses_every_anchor_and_alias_at_line_1(loader: str, text: str) -> None:
    with pytest.raises(YamlProblem) as raised:
        load_located(text)
    assert raised.value.message.startswith(ALIASES)
    assert raised.value.line == 1


def test_an_anchor_inside_quotes_is_text(loader: str) -> None:
    located = load_located("name: '&a *b'\nnote: \"*c\"\n")
    assert located.data == {"name": "&a *b", "note": "*c"}


@pytest.mark.parametrize(
    ("opening", "depth"),
    [("[", 50_000), ("[", 1_000_000), ("{", 50_000), ("{", 1_000_000), ("- ", 500_000)],
)
def test_the_loader_bounds_nesting_of_any_kind(loader: str, opening: str, depth: int) -> None:
    text = "# the first line\n" + opening * depth + "\n"
    assert len(text) <= MAX_FILE_BYTES  # the depth limit must answer, not the size limit
    with pytest.raises(YamlProblem) as raised:
        load_located(text)
    assert raised.value.message.startswith(TOO_DEEP)
    assert raised.value.line == 2


def test_the_limit_is_64_levels(loader: str) -> None:
    deepest = load_located("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    value = deepest.data
    for _ in range(MAX_DEPTH - 1):
        (value,) = value
    assert value == []
    assert deepest.line_of((0,) * (MAX_DEPTH - 1)) == 1

    text = "\n".join(f"{' ' * level}l{level}:" for level in range(MAX_DEPTH + 1))
    with pytest.raises(YamlProblem) as raised:
        load_located(text)
    # l63 is the key on line 64 whose value opens level 65, on line 65.
    assert raised.value.line == MAX_DEPTH + 1
    assert raised.value.path == tuple(f"l{level}" for level in range(MAX_DEPTH))


def test_the_loader_refuses_text_over_the_limit(loader: str) -> None:
    with pytest.raises(YamlProblem) as raised:
        load_located("é" * (MAX_FILE_BYTES // 2 + 1))  # two bytes each in UTF-8
    assert raised.value.message.startswith("the file is 1,048,578 bytes, over the limit")


def test_a_long_sexagesimal_integer_is_refused_rather_than_multiplied_out(loader: str) -> None:
    with pytest.raises(YamlProblem) as raised:
        load_located("name: x\nsize: 1" + ":59" * 200_000 + "\n")
    assert raised.value.line == 2
    assert "an integer is limited to 4,300 characters" in raised.value.message


ORDINARY = """\
id: finance.targets
status: draft
validValues: [yes, no, on, off, true, False]
since: 2024-01-31
at: 2001-12-14t21:59:43.10-05:00
counts: [1_000, 0x1f, 0o17, 1:20, -3]
ratios: [1.5, .inf, -.Inf, 6.8523015e+5]
nothing: ~
empty:
quoted: ['yes', "2024-01-31", '1']
base: {a: 1}
merged:
  b: 2
  c: 3
unique: !!set {x, y}
pairs: !!omap [{p: 1}, {q: 2}]
text: |
  two
  lines
team:
  members:
  - username: owner@finance.example
    role: owner
  -
  - last
"""


def test_ordinary_yaml_loads_as_safe_load_loads_it(loader: str) -> None:
    located = load_located(ORDINARY)

    assert located.data == yaml.safe_load(ORDINARY)
    assert located.data["validValues"] == [True, False, True, False, True, False]


def test_every_key_and_item_keeps_its_line(loader: str) -> None:
    located = load_located(ORDINARY)

    def line(written: str) -> int:
        (number,) = [n for n, text in enumerate(ORDINARY.splitlines(), 1) if text == written]
        return number

    assert located.lines[()] == 1
    assert located.line_of(("since",)) == line("since: 2024-01-31")
    assert located.line_of(("empty",)) == line("empty:")
    assert located.line_of(("merged", "c")) == line("  c: 3")
    assert located.line_of(("text",)) == line("text: |")
    assert located.line_of(("team", "members", 0, "role")) == line("    role: owner")
    assert located.line_of(("team", "members", 1)) == line("  -")
    assert located.line_of(("team", "members", 2)) == line("  - last")
    # The deepest part that exists: a missing key points at its mapping.
    assert located.line_of(("team", "members", 0, "missing")) == line(
        "  - username: owner@finance.example"
    )
    assert located.value_at(("team", "members", 0, "role")) == "owner"
    assert located.value_at(("team", "members", 7)) is None


def test_a_duplicate_key_is_refused_at_its_second_appearance(loader: str) -> None:
    with pytest.raises(YamlProblem) as raised:
        load_located("a: 1\nb:\n  c: 1\n  d: 2\n  c: 3\n")
    assert raised.value.message == "key 'c' appears twice: keep one"
    assert raised.value.line == 5
    assert raised.value.path == ("b", "c")


@pytest.mark.parametrize(
    ("text", "line"),
    [("a: 1\ntags: [source\nb: 2\n", 2), ("a: 1\nb: 'open\nc: 2\n", 2)],
    ids=["bracket", "quote"],
)
def test_an_unclosed_bracket_or_quote_points_where_it_opens(
    loader: str, text: str, line: int
) -> None:
    with pytest.raises(YamlProblem) as raised:
        load_located(text)
    assert raised.value.line == line
    assert "that starts here is not closed" in raised.value.message


def test_an_empty_file_is_no_document(loader: str) -> None:
    assert load_located("").data is None
    assert load_located("# only a comment\n").lines == {}


@pytest.mark.parametrize(
    "text",
    [
        "status: draft\n<<: {status: retired}\n",
        "merged:\n  c: 3\n  <<: [{b: 2}]\n",
    ],
)
def test_merge_keys_are_refused_at_their_line(loader: str, text: str) -> None:
    # Without aliases, << still merges an inline mapping in, beside keys written out.
    with pytest.raises(YamlProblem) as raised:
        load_located(text)
    assert "merge keys (<<) are not allowed" in raised.value.message
    assert (
        raised.value.line
        == text.splitlines().index(next(line for line in text.splitlines() if "<<" in line)) + 1
    )


def test_a_short_hexadecimal_integer_past_what_python_prints_is_refused(loader: str) -> None:
    with pytest.raises(YamlProblem) as raised:
        load_located("a: 1\nmustBe: 0x" + "f" * 4000 + "\n")
    assert raised.value.line == 2
    assert "limited to 4,300 decimal digits" in raised.value.message

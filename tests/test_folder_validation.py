"""A product folder loads, or each thing wrong with it is named at its file, line and field.

Every test starts from the folder ``quanta init`` writes, breaks one thing in its YAML,
and reads the issue back. Expected lines are looked up in the text as written.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from quanta.model.result import Issue
from quanta.scaffold import scaffold
from quanta.validation.folder import load_folder

DESCRIPTOR = "checkout/orders/dataproduct.yaml"
CONTRACT = "checkout/orders/contracts/orders.odcs.yaml"


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return scaffold(product="checkout/orders", blueprint="source", directory=tmp_path, upstream={})


def rewrite(path: Path, old: str, new: str) -> None:
    """Replace the one place ``old`` is written with ``new``."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is written {text.count(old)} times in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def lines_of(path: Path, line: str) -> list[int]:
    """The 1-based numbers of the lines that read ``line``, leading spaces aside."""
    text = path.read_text(encoding="utf-8")
    return [
        number for number, written in enumerate(text.splitlines(), 1) if written.strip() == line
    ]


def line_of(path: Path, line: str) -> int:
    found = lines_of(path, line)
    assert len(found) == 1, f"{line!r} is on lines {found} of {path}"
    return found[0]


def issues_in(folder: Path, file: str) -> list[Issue]:
    loaded = load_folder(folder)
    assert loaded.product is None, "a folder with issues must not load"
    return [issue for issue in loaded.issues if issue.file == file]


def only_issue(folder: Path, file: str = DESCRIPTOR) -> Issue:
    loaded = load_folder(folder)
    assert loaded.product is None, "a folder with issues must not load"
    assert len(loaded.issues) == 1, [issue.model_dump() for issue in loaded.issues]
    assert loaded.issues[0].file == file
    return loaded.issues[0]


def test_the_scaffolded_folder_loads_without_issues(folder: Path) -> None:
    loaded = load_folder(folder)

    assert loaded.issues == []
    assert loaded.product is not None
    assert str(loaded.product.id) == "checkout.orders"
    assert list(loaded.product.contracts) == ["orders"]
    assert loaded.product.contract_files == {"orders": CONTRACT}
    assert loaded.product.transformation.path == "transform.sql"


def test_a_missing_folder_is_one_issue(tmp_path: Path) -> None:
    loaded = load_folder(tmp_path / "nowhere")

    assert loaded.product is None
    assert [issue.message for issue in loaded.issues] == ["there is no such folder"]
    assert loaded.issues[0].hint


def test_a_missing_descriptor_is_named(folder: Path) -> None:
    (folder / "dataproduct.yaml").unlink()

    issue = only_issue(folder)

    assert issue.message == "the file is missing"
    assert issue.hint


# ---------------------------------------------------------------------------------------------
# YAML that does not parse


def test_bad_indentation_is_reported_at_its_line(folder: Path) -> None:
    descriptor = folder / "dataproduct.yaml"
    rewrite(descriptor, "    role: owner\n", "     role: owner\n")

    issue = only_issue(folder)

    assert issue.line == line_of(descriptor, "role: owner")
    assert issue.message.startswith("this is not valid YAML: ")
    assert issue.hint == "fix the YAML syntax at that line"


def test_an_unclosed_bracket_is_reported_at_the_line_that_opens_it(folder: Path) -> None:
    descriptor = folder / "dataproduct.yaml"
    rewrite(descriptor, "tags:\n- source\n", "tags: [source\n")

    issue = only_issue(folder)

    assert issue.message.startswith("this is not valid YAML: ")
    assert issue.hint == "fix the YAML syntax at that line"
    # The mistake is the '[' never closed, not the next key where the parser gave up.
    assert issue.line == line_of(descriptor, "tags: [source")


def test_a_duplicate_key_is_reported_at_its_second_appearance(folder: Path) -> None:
    descriptor = folder / "dataproduct.yaml"
    rewrite(descriptor, "status: active\n", "status: active\nstatus: draft\n")

    issue = only_issue(folder)

    assert issue.line == line_of(descriptor, "status: draft")
    assert issue.field == "status"
    assert issue.message == "key 'status' appears twice: keep one"
    assert issue.hint


def test_a_duplicate_nested_key_names_its_full_field(folder: Path) -> None:
    contract = folder / "contracts" / "orders.odcs.yaml"
    rewrite(
        contract, "    physicalType: TIMESTAMP\n", "    physicalType: TIMESTAMP\n    name: at\n"
    )

    issue = issues_in(folder, CONTRACT)[0]

    assert issue.line == line_of(contract, "name: at")
    assert issue.field == "schema[0].properties[4].name"
    assert issue.message == "key 'name' appears twice: keep one"


# ---------------------------------------------------------------------------------------------
# Documents that parse but break the standards' shape


def test_a_wrong_physical_type_names_the_accepted_types(folder: Path) -> None:
    contract = folder / "contracts" / "orders.odcs.yaml"
    rewrite(
        contract,
        "physicalType: VARCHAR\n    description: What",
        "physicalType: VARCHA\n    description: What",
    )

    [issue] = issues_in(folder, CONTRACT)

    assert issue.line == line_of(contract, "physicalType: VARCHA")
    assert issue.field == "schema[0].properties[1].physicalType"
    assert issue.value == "VARCHA"
    assert "unknown type 'VARCHA'" in issue.message
    assert "VARCHAR" in issue.hint
    assert "INTEGER" in issue.hint
    assert issue.hint


def test_a_widened_physical_type_says_what_to_declare(folder: Path) -> None:
    contract = folder / "contracts" / "orders.odcs.yaml"
    rewrite(contract, "physicalType: BIGINT", "physicalType: SMALLINT")

    [issue] = issues_in(folder, CONTRACT)

    assert issue.line == line_of(contract, "physicalType: SMALLINT")
    assert issue.field == "schema[0].properties[0].physicalType"
    assert "declare INTEGER instead" in issue.hint


def test_an_unknown_logical_type_lists_the_logical_types(folder: Path) -> None:
    contract = folder / "contracts" / "orders.odcs.yaml"
    rewrite(contract, "logicalType: timestamp", "logicalType: datetime")

    [issue] = issues_in(folder, CONTRACT)

    assert issue.line == line_of(contract, "logicalType: datetime")
    assert issue.field == "schema[0].properties[4].logicalType"
    assert issue.value == "datetime"
    assert "'datetime' is not allowed" in issue.message
    assert issue.hint is not None
    assert "'timestamp'" in issue.hint
    assert "'string'" in issue.hint


def test_an_unknown_key_suggests_the_known_one(folder: Path) -> None:
    descriptor = folder / "dataproduct.yaml"
    rewrite(descriptor, "outputPorts:\n", "outputPort:\n")

    issue = only_issue(folder)

    assert issue.line == line_of(descriptor, "outputPort:")
    assert issue.field == "outputPort"
    assert issue.message == "unknown key 'outputPort'"
    assert issue.hint == "did you mean 'outputPorts'?"


def test_an_unknown_nested_key_suggests_from_the_nested_model(folder: Path) -> None:
    descriptor = folder / "dataproduct.yaml"
    rewrite(
        descriptor,
        "  contractId: checkout.orders.orders\n",
        "  contractID: checkout.orders.orders\n",
    )

    issue = issues_in(folder, DESCRIPTOR)[0]

    assert issue.line == line_of(descriptor, "contractID: checkout.orders.orders")
    assert issue.field == "outputPorts[0].contractID"
    assert issue.hint == "did you mean 'contractId'?"


def test_a_missing_required_field_is_named_with_a_hint(folder: Path) -> None:
    descriptor = folder / "dataproduct.yaml"
    rewrite(descriptor, "status: active\n", "")

    issue = only_issue(folder)

    assert issue.field == "status"
    # The key is absent: the issue points at the mapping that should hold it.
    assert issue.line == line_of(descriptor, "apiVersion: v1.0.0")
    assert issue.message == "'status' is required"
    assert issue.hint == "add 'status' here"


@pytest.mark.parametrize("bad_id", ["../evil.x", "checkout.../x", "checkout/../x"])
def test_a_product_id_with_path_traversal_is_refused(folder: Path, bad_id: str) -> None:
    descriptor = folder / "dataproduct.yaml"
    rewrite(descriptor, "id: checkout.orders\n", f"id: {bad_id}\n")

    issue = only_issue(folder)

    assert issue.line == line_of(descriptor, f"id: {bad_id}")
    assert issue.field == "id"
    assert issue.value == bad_id
    assert "is not a product id" in issue.message
    assert issue.hint


def test_an_unknown_classification_lists_the_classifications(folder: Path) -> None:
    contract = folder / "contracts" / "orders.odcs.yaml"
    rewrite(contract, "classification: public", "classification: secret")

    [issue] = issues_in(folder, CONTRACT)

    assert issue.line == line_of(contract, "classification: secret")
    assert issue.field == "schema[0].properties[2].classification"
    assert issue.value == "secret"
    assert "unknown classification 'secret'" in issue.message
    assert "confidential" in issue.hint
    assert issue.hint


def test_a_column_declared_twice_is_reported_at_its_second_declaration(folder: Path) -> None:
    contract = folder / "contracts" / "orders.odcs.yaml"
    rewrite(contract, "- name: category\n", "- name: name\n")

    [issue] = issues_in(folder, CONTRACT)

    first, second = lines_of(contract, "- name: name")
    assert first < second
    assert issue.message == "column 'name' is declared twice"
    assert issue.field.startswith("schema[0].properties")
    assert issue.line == second
    assert issue.field in ("schema[0].properties[2]", "schema[0].properties[2].name")
    assert issue.hint


def test_an_invalid_contract_is_not_also_reported_as_missing(folder: Path) -> None:
    contract = folder / "contracts" / "orders.odcs.yaml"
    rewrite(contract, "classification: public", "classification: secret")

    loaded = load_folder(folder)

    # The port's contract exists; it is invalid, which its own issue says. A second issue
    # telling to "add contracts/orders.odcs.yaml" (a file that is there) misleads.
    assert [issue.file for issue in loaded.issues] == [CONTRACT]


# ---------------------------------------------------------------------------------------------
# Checks across the product's files


def test_a_transformation_file_that_does_not_exist(folder: Path) -> None:
    descriptor = folder / "dataproduct.yaml"
    rewrite(descriptor, "path: transform.sql", "path: transfrom.sql")

    issue = only_issue(folder)

    assert issue.line == line_of(descriptor, "path: transfrom.sql")
    assert issue.field == "customProperties[0].value.path"
    assert issue.message == "transformation file 'transfrom.sql' does not exist"
    assert issue.hint


def test_a_transformation_path_outside_the_folder_is_refused(folder: Path) -> None:
    descriptor = folder / "dataproduct.yaml"
    (folder.parent / "outside.sql").write_text("SELECT 1\n", encoding="utf-8")
    rewrite(descriptor, "path: transform.sql", "path: ../outside.sql")

    issue = only_issue(folder)

    assert issue.line == line_of(descriptor, "path: ../outside.sql")
    assert issue.field == "customProperties[0].value.path"
    assert "must stay inside the product folder" in issue.message
    assert issue.hint


def test_a_source_file_that_does_not_exist(folder: Path) -> None:
    descriptor = folder / "dataproduct.yaml"
    rewrite(descriptor, "path: data/items.csv", "path: data/itemz.csv")

    issue = only_issue(folder)

    assert issue.line == line_of(descriptor, "path: data/itemz.csv")
    assert issue.field == "inputPorts[0].customProperties[0].value.path"
    assert issue.message == "source file 'data/itemz.csv' does not exist"
    assert issue.hint


def test_a_port_version_that_differs_from_its_contract(folder: Path) -> None:
    descriptor = folder / "dataproduct.yaml"
    rewrite(descriptor, "  version: 1.0.0\n  type: table", "  version: 1.1.0\n  type: table")

    issue = only_issue(folder)

    assert issue.line == line_of(descriptor, "version: 1.1.0")
    assert issue.field == "outputPorts[0].version"
    assert "'1.1.0' differs from its contract's version '1.0.0'" in issue.message
    assert CONTRACT in issue.message
    assert issue.hint


def test_two_output_ports_with_the_same_name(folder: Path) -> None:
    descriptor = folder / "dataproduct.yaml"
    rewrite(
        descriptor,
        "customProperties:\n- property: transformation",
        "- name: orders\n  version: 1.0.0\n  contractId: checkout.orders.orders\n"
        "customProperties:\n- property: transformation",
    )

    twice = [i for i in issues_in(folder, DESCRIPTOR) if "declared twice" in i.message]

    assert len(twice) == 1
    [issue] = twice
    assert issue.line == lines_of(descriptor, "- name: orders")[1]
    assert issue.field == "outputPorts[1].name"
    assert issue.message == "output port 'orders' is declared twice"
    assert issue.hint


def test_a_contract_no_port_names_is_reported(folder: Path) -> None:
    contract = folder / "contracts" / "orders.odcs.yaml"
    spare = folder / "contracts" / "spare.odcs.yaml"
    spare.write_text(
        contract.read_text(encoding="utf-8").replace(
            "id: checkout.orders.orders", "id: checkout.orders.spare"
        ),
        encoding="utf-8",
    )

    issue = only_issue(folder, "checkout/orders/contracts/spare.odcs.yaml")

    assert issue.line == line_of(spare, "id: checkout.orders.spare")
    assert issue.field == "id"
    assert "belongs to no output port" in issue.message
    assert issue.hint


@pytest.mark.parametrize("version", ["\u00b2", "\u0661", "1x"])
def test_an_input_version_in_other_digits_is_an_issue(folder: Path, version: str) -> None:
    descriptor = folder / "dataproduct.yaml"
    text = descriptor.read_text(encoding="utf-8")
    descriptor.write_text(text.replace("version: '1'", f"version: '{version}'", 1))

    issue = only_issue(folder)

    assert "names no major version" in issue.message

"""Source files: read only from inside the product folder, with known reader options only.

Each hostile shape below was reproduced against an earlier Quanta: an option name that
smuggled SQL into the reader call before the sandbox was on, paths and links and globs that
published host files, links that made discovery walk the file system.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from quanta.build.inputs import ResolvedInputs, resolve_inputs
from quanta.build.plan import discover
from quanta.errors import QueryRefused
from quanta.mesh import Mesh
from quanta.model.relations import Binding, FileScan
from quanta.model.result import Outcome
from quanta.validation.folder import load_folder

SOURCE = "      path: data/items.csv\n      format: csv\n"


@pytest.fixture
def host_file(tmp_path: Path) -> Path:
    """A file outside every product folder, standing for /etc/passwd."""
    path = tmp_path / "host" / "secret.csv"
    path.parent.mkdir()
    path.write_text("id,name,category,amount,updated_at\n1,swordfish,x,1.0,2026-01-01\n")
    return path


def set_source(product: Path, value: str) -> None:
    descriptor = product / "dataproduct.yaml"
    text = descriptor.read_text(encoding="utf-8")
    assert text.count(SOURCE) == 1
    descriptor.write_text(text.replace(SOURCE, value), encoding="utf-8")


def source_issues(mesh: Mesh, product: Path) -> list[str]:
    [validation] = mesh.validate(product)
    return [f"{issue.field}: {issue.message} ({issue.hint})" for issue in validation.issues]


def assert_refused_everywhere(mesh: Mesh, product: Path, words: str) -> None:
    issues = source_issues(mesh, product)
    assert any(words in issue for issue in issues), issues
    [publication] = mesh.publish(product)
    assert publication.outcome == Outcome.FAILED
    assert mesh.products() == []


# -- reader options ----------------------------------------------------------------------


INJECTION = (
    "header => true); COPY (SELECT content FROM read_text('/etc/passwd')) TO "
    "'stolen.csv'; SELECT 1 --"
)


def test_an_option_name_that_carries_sql_is_refused_at_validate_and_never_runs(
    mesh: Mesh, source_product: Path, workspace: Path
) -> None:
    set_source(source_product, f'{SOURCE}      options:\n        "{INJECTION}": true\n')

    issues = source_issues(mesh, source_product)

    assert len(issues) == 1
    assert "csv sources have no option" in issues[0]
    [publication] = mesh.publish(source_product)
    assert publication.outcome == Outcome.FAILED
    assert not list(workspace.rglob("stolen.csv"))
    assert not (Path.cwd() / "stolen.csv").exists()


def test_the_engine_refuses_an_unknown_option_even_when_validation_did_not_run(
    mesh: Mesh, tmp_path: Path
) -> None:
    source = tmp_path / "items.csv"
    source.write_text("id\n1\n")
    scan = FileScan((str(source),), "csv", {INJECTION: True}, label="data/items.csv")

    with (
        pytest.raises(QueryRefused, match="reader option"),
        mesh.engine.session([Binding((("raw",),), scan)]),
    ):
        pass
    assert not list(tmp_path.rglob("stolen.csv"))


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ("filename: true", "csv sources have no option 'filename'"),
        ("rejects_table: stolen", "csv sources have no option 'rejects_table'"),
        ("heder: true", "did you mean 'header'?"),
        ("header: 'yes'", "option 'header' takes true or false"),
        ("skip: '1; DROP TABLE x'", "option 'skip' takes a whole number"),
        ("types: {id: 1}", "option 'types' takes column types"),
        ('delim: "a\\0b"', "option 'delim' takes a string"),
        ("max_line_size: 4000000000", "option 'max_line_size' takes a size in bytes"),
        ("skip: -1", "option 'skip' takes a whole number"),
        ("sample_size: 0", "option 'sample_size' takes a number of rows"),
    ],
)
def test_options_must_be_known_and_typed(
    mesh: Mesh, source_product: Path, options: str, words: str
) -> None:
    set_source(source_product, f"{SOURCE}      options:\n        {options}\n")

    issues = source_issues(mesh, source_product)

    assert len(issues) == 1
    assert words in issues[0]
    assert issues[0].startswith("inputPorts[0].customProperties[0].value.options")


def test_a_hostile_option_value_stays_a_value(mesh: Mesh, source_product: Path) -> None:
    hostile = "x'); COPY (SELECT 1) TO 'stolen.csv'; SELECT ('"
    set_source(source_product, f'{SOURCE}      options:\n        nullstr: "{hostile}"\n')

    [publication] = mesh.publish(source_product)

    assert publication.outcome == Outcome.PASSED, publication.reason
    assert not list(Path.cwd().rglob("stolen.csv"))


def test_typed_options_reach_the_reader(mesh: Mesh, source_product: Path) -> None:
    data = source_product / "data" / "items.csv"
    data.write_text(data.read_text().replace(",", ";"))
    set_source(
        source_product,
        f"{SOURCE}      options:\n        delim: ';'\n        header: true\n"
        "        types: {id: VARCHAR}\n",
    )

    [publication] = mesh.publish(source_product)

    assert publication.outcome == Outcome.PASSED, publication.reason


# -- paths -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["../../host/secret.csv", "/etc/passwd", "data/../../x.csv"])
def test_a_source_path_outside_the_folder_is_refused(
    mesh: Mesh, source_product: Path, path: str
) -> None:
    set_source(source_product, f"      path: {path}\n      format: csv\n")

    assert_refused_everywhere(mesh, source_product, "must stay inside the product folder")


def test_a_source_that_is_a_link_to_a_host_file_is_refused(
    mesh: Mesh, source_product: Path, host_file: Path
) -> None:
    (source_product / "data" / "items.csv").unlink()
    (source_product / "data" / "items.csv").symlink_to(host_file)

    assert_refused_everywhere(mesh, source_product, "leads outside the product folder")


def test_a_folder_link_in_a_source_path_is_refused(
    mesh: Mesh, source_product: Path, host_file: Path
) -> None:
    (source_product / "host").symlink_to(host_file.parent)
    set_source(source_product, "      path: host/secret.csv\n      format: csv\n")

    assert_refused_everywhere(mesh, source_product, "leads outside the product folder")


@pytest.mark.parametrize("pattern", ["/etc/hostnam*", "../*/secret.csv", "data/../../*"])
def test_a_glob_outside_the_folder_is_refused(
    mesh: Mesh, source_product: Path, pattern: str
) -> None:
    set_source(source_product, f"      path: '{pattern}'\n      format: csv\n")

    assert_refused_everywhere(mesh, source_product, "must stay inside the product folder")


def test_a_glob_that_matches_a_link_out_of_the_folder_is_refused(
    mesh: Mesh, source_product: Path, host_file: Path
) -> None:
    (source_product / "data" / "more.csv").symlink_to(host_file)
    set_source(source_product, "      path: data/*.csv\n      format: csv\n")

    assert_refused_everywhere(mesh, source_product, "leads outside the product folder")


def test_a_glob_reads_every_matching_file_and_nothing_else(
    mesh: Mesh, source_product: Path
) -> None:
    data = source_product / "data"
    header, *rows = (data / "items.csv").read_text().splitlines()
    (data / "items_2.csv").write_text(f"{header}\n999,{rows[0].split(',', 1)[1]}\n")
    set_source(source_product, "      path: data/items*.csv\n      format: csv\n")

    [publication] = mesh.publish(source_product)

    assert publication.outcome == Outcome.PASSED, publication.reason
    assert publication.build is not None
    assert publication.build.rows == len(rows) + 1


def test_a_link_swapped_in_after_validation_is_refused_at_build(
    mesh: Mesh, source_product: Path, host_file: Path
) -> None:
    assert source_issues(mesh, source_product) == []
    (source_product / "data" / "items.csv").unlink()
    (source_product / "data" / "items.csv").symlink_to(host_file)

    [build] = mesh.build(source_product)

    assert build.outcome == Outcome.FAILED
    assert "leads outside the product folder" in (build.reason or "")


def test_a_glob_source_allows_the_engine_exactly_the_matched_files(
    mesh: Mesh, tmp_path: Path
) -> None:
    # What the guard would refuse, the sandbox refuses too: the folder is not readable.
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "a1.csv").write_text("n\n1\n")
    (folder / "b.csv").write_text("n\n2\n")
    scan = FileScan((str(folder / "a1.csv"),), "csv", label="data/a*.csv")

    with mesh.engine.session([Binding((("raw",),), scan)]) as session:
        assert session.to_arrow("SELECT n FROM raw").to_pylist() == [{"n": 1}]
        with pytest.raises(QueryRefused, match="outside its declared inputs"):
            session.to_arrow(f"SELECT * FROM read_csv('{folder / 'b.csv'}')")
        with pytest.raises(QueryRefused, match="outside its declared inputs"):
            session.to_arrow(f"SELECT * FROM glob('{folder}/*')")


def test_a_transformation_that_is_a_link_out_of_the_folder_is_refused(
    mesh: Mesh, source_product: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.sql"
    outside.write_text("SELECT 1 AS id\n")
    (source_product / "transform.sql").unlink()
    (source_product / "transform.sql").symlink_to(outside)

    issues = source_issues(mesh, source_product)

    assert any("transformation file 'transform.sql' leads outside" in i for i in issues), issues
    [publication] = mesh.publish(source_product)
    assert publication.outcome == Outcome.FAILED


def test_a_contract_that_is_a_link_to_a_host_file_is_not_read(
    mesh: Mesh, source_product: Path, tmp_path: Path
) -> None:
    # Were it read, YAML errors would print lines of the host file.
    host = tmp_path / "host.yaml"
    host.write_text("root: x:0:0:root:/root:/bin/bash\n")
    contract = source_product / "contracts" / "targets.odcs.yaml"
    contract.unlink()
    contract.symlink_to(host)

    [validation] = mesh.validate(source_product)

    texts = [f"{issue.message} {issue.value}" for issue in validation.issues]
    assert any("leads outside the product folder" in text for text in texts), texts
    assert not any("root" in text for text in texts)


# -- discovery ---------------------------------------------------------------------------


def test_discovery_does_not_follow_links_to_folders(source_product: Path, workspace: Path) -> None:
    (workspace / "root").symlink_to("/")
    (workspace / "loop").symlink_to(workspace)
    (source_product / "loop").symlink_to(source_product.parent)

    assert discover(workspace) == [source_product]


# -- messages that name the file ---------------------------------------------------------


def test_an_empty_source_file_is_named(mesh: Mesh, source_product: Path) -> None:
    (source_product / "data" / "items.csv").write_text("")

    [build] = mesh.build(source_product)

    assert build.outcome == Outcome.FAILED
    assert "data/items.csv" in (build.reason or "")
    assert "empty" in (build.reason or "")


def test_a_csv_without_the_expected_header_names_the_file_and_what_was_read(
    mesh: Mesh, source_product: Path
) -> None:
    (source_product / "data" / "items.csv").write_text("just one line of text\n")

    [build] = mesh.build(source_product)

    assert build.outcome == Outcome.FAILED
    assert "raw_items (data/items.csv) was read with 1 column" in (build.reason or "")
    assert "just one line" not in (build.reason or "")  # names from a first row may be data
    assert str(source_product) not in (build.reason or "")


def test_a_value_the_reader_cannot_convert_is_not_shown(mesh: Mesh, source_product: Path) -> None:
    data = source_product / "data" / "items.csv"
    lines = data.read_text().splitlines()
    lines[2] = "ana@mail.example," + lines[2].split(",", 1)[1]
    data.write_text("\n".join(lines) + "\n")
    set_source(source_product, f"{SOURCE}      options:\n        types: {{id: BIGINT}}\n")

    [build] = mesh.build(source_product)

    reason = build.reason or ""
    assert build.outcome == Outcome.FAILED
    assert "ana@mail.example" not in reason
    assert "line 3 of data/items.csv" in reason
    assert str(source_product) not in reason


# -- files that change while a product builds ---------------------------------------------


def checked_inputs(mesh: Mesh, folder: Path) -> ResolvedInputs:
    """The product's inputs as a build resolves them: its source files checked, not read."""
    product = load_folder(folder).product
    assert product is not None
    return resolve_inputs(product, mesh.stores.catalog)


def test_a_source_swapped_for_a_link_before_the_session_opens_is_refused(
    mesh: Mesh, source_product: Path, host_file: Path
) -> None:
    resolved = checked_inputs(mesh, source_product)  # a file inside the folder
    data = source_product / "data" / "items.csv"
    data.unlink()
    data.symlink_to(host_file)  # ... and a moment later, a link out of it

    with (
        pytest.raises(QueryRefused, match="is a link: files are read where they are"),
        mesh.engine.session(resolved.sources),
    ):
        pass


def test_a_source_swapped_after_the_session_opened_is_never_read(
    mesh: Mesh, source_product: Path, host_file: Path
) -> None:
    resolved = checked_inputs(mesh, source_product)
    data = source_product / "data" / "items.csv"
    with mesh.engine.session(resolved.sources) as session:
        before = session.to_arrow("SELECT name FROM raw_items ORDER BY id").to_pylist()
        swap = data.with_name("swap.csv")
        swap.symlink_to(host_file)
        swap.replace(data)
        try:
            after = session.to_arrow("SELECT name FROM raw_items ORDER BY id").to_pylist()
        except QueryRefused:
            after = before  # refusing is as good as reading what was checked
    assert after == before
    assert {"name": "swordfish"} not in after


def test_the_transformation_that_runs_is_the_one_that_was_checked(
    mesh: Mesh, source_product: Path
) -> None:
    from quanta.build import transform

    product = load_folder(source_product).product
    assert product is not None
    code = transform.read_code(product)
    (source_product / "transform.sql").write_text("SELECT * FROM read_text('/etc/hostname')")

    with mesh.engine.session([]) as session:
        [query] = transform.run(product, code, session).values()
    assert query == code.text
    assert "read_text" not in query


def test_the_engine_spills_into_the_home_and_lets_no_query_read_the_working_folder(
    mesh: Mesh, workspace: Path
) -> None:
    # DuckDB's default temporary folder, ./.tmp, is added to what a session may read.
    (workspace / ".tmp").mkdir()
    (workspace / ".tmp" / "notes.csv").write_text("secret\nhunter2\n")
    with mesh.engine.session([]) as session:
        [row] = session.to_arrow("SELECT current_setting('temp_directory') AS t").to_pylist()
        assert Path(row["t"]).resolve().is_relative_to((mesh.home / "scratch").resolve())
        with pytest.raises(QueryRefused, match="outside its declared inputs"):
            session.to_arrow(f"SELECT * FROM read_csv('{workspace / '.tmp' / 'notes.csv'}')")
    assert not (mesh.home / "scratch").exists() or not any((mesh.home / "scratch").iterdir())


def test_a_loop_of_links_is_an_issue_not_a_traceback(mesh: Mesh, source_product: Path) -> None:
    data = source_product / "data"
    (data / "loop1.csv").symlink_to(data / "loop2.csv")
    (data / "loop2.csv").symlink_to(data / "loop1.csv")
    set_source(source_product, "      path: data/loop1.csv\n      format: csv\n")

    assert_refused_everywhere(mesh, source_product, "loop of symbolic links")


def test_discovery_walks_a_folder_tree_deeper_than_pythons_recursion(tmp_path: Path) -> None:
    deep = tmp_path
    for _ in range(1100):  # one by one: mkdir(parents=True) recurses as well
        deep = deep / "d"
        deep.mkdir()
    (deep / "dataproduct.yaml").write_text("id: x.y\n")
    try:
        assert discover(tmp_path) == [deep]
    finally:
        # And so does shutil.rmtree, with which pytest clears its temporary folders.
        (deep / "dataproduct.yaml").unlink()
        while deep != tmp_path:
            deep.rmdir()
            deep = deep.parent

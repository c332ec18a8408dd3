"""What the command line prints: text from data and descriptors shows as typed, never as
markup, emoji or terminal commands; paths of the machine show without their absolute part.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml
from rich.text import Text
from typer.testing import CliRunner

from quanta.cli import app
from quanta.cli.output import PlainConsole
from quanta.mesh import Mesh
from quanta.scaffold import scaffold

runner = CliRunner()

HOSTILE = (
    "[/x]",
    "[bold red]",
    "[link=https://example.org]x[/link]",
    ":smile:",
    "\x1b[2J",
    "\x1b]8;;https://example.org\x07x\x1b]8;;\x07",
)
EVIL = " ".join(HOSTILE)
# A file name cannot hold "/", and "[" would make the path a glob pattern.
SOURCE = "data/:smile: \x1b]0;pwned\x07.csv"
# A transformation file named like markup, in a folder named "t[".
TRANSFORMATION = "t[/x] \x1b[2J\x07.sql"
TERMINAL = {"TTY_COMPATIBLE": "1"}  # Rich styles its output as on a terminal


def seen(text: str) -> str:
    """How text holding control characters must show: the characters as escapes."""
    return text.encode("unicode_escape").decode()


def cli(home: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    # Wide enough that no table cell wraps a hostile text in two.
    result = runner.invoke(
        app, [*args, "--home", str(home)], env={"COLUMNS": "1000", **(env or {})}
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def assert_inert(output: str, *, terminal: bool = False) -> None:
    """No control character of the data reached the output (Rich's own styles aside)."""
    if terminal:
        for sequence in ("\x1b[2J", "\x1b]8;", "\x1b]0;", "\x07"):
            assert sequence not in output
    else:
        assert "\x1b" not in output
        assert "\x07" not in output


def assert_shown(output: str, text: str = EVIL) -> None:
    for part in text.split(" "):
        assert seen(part) in output, part


def hostile_folder(workspace: Path) -> Path:
    """finance.targets with hostile title, description, team, port, columns and data."""
    folder = scaffold("finance/targets", "source", workspace, {})
    descriptor_file = folder / "dataproduct.yaml"
    descriptor = yaml.safe_load(descriptor_file.read_text())
    descriptor["name"] = EVIL
    descriptor["description"]["purpose"] = EVIL
    descriptor["team"]["name"] = EVIL
    descriptor["outputPorts"][0]["description"] = EVIL
    descriptor["inputPorts"][0]["customProperties"][0]["value"]["path"] = SOURCE
    descriptor["customProperties"][0]["value"]["path"] = TRANSFORMATION
    descriptor_file.write_text(yaml.safe_dump(descriptor, sort_keys=False))
    contract_file = folder / "contracts" / "targets.odcs.yaml"
    contract = yaml.safe_load(contract_file.read_text())
    for column in contract["schema"][0]["properties"]:
        column["description"] = EVIL
    contract_file.write_text(yaml.safe_dump(contract, sort_keys=False))
    (folder / "t[").mkdir()
    (folder / "transform.sql").rename(folder / TRANSFORMATION)
    data = folder / "data" / "items.csv"
    rows = list(csv.reader(data.open()))
    for row, name, category in zip(rows[1:], HOSTILE[:3], HOSTILE[3:], strict=True):
        row[1:3] = [name, category]
    data.unlink()
    with (folder / SOURCE).open("w", newline="") as file:
        csv.writer(file).writerows(rows)
    return folder


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The home of a mesh where finance.targets is published with hostile text."""
    root = tmp_path_factory.mktemp("hostile")
    folder = hostile_folder(root / "products")
    with Mesh.open(root / "home") as mesh:
        [publication] = mesh.publish(folder)
        assert publication.outcome.ok, publication
    return root / "home"


@pytest.mark.parametrize("env", [{}, TERMINAL], ids=["plain", "terminal"])
@pytest.mark.parametrize(
    "args",
    [["list"], ["show", "finance.targets"], ["search", "smile"]],
    ids=lambda args: args[0],
)
def test_hostile_descriptions_owners_and_titles_show_as_typed(
    hostile: Path, args: list[str], env: dict[str, str]
) -> None:
    code, output = cli(hostile, *args, env=env)
    assert code == 0
    assert_inert(output, terminal=bool(env))
    assert_shown(output)
    assert "😄" not in output


def test_show_prints_hostile_port_and_column_descriptions(hostile: Path) -> None:
    code, output = cli(hostile, "show", "finance.targets")
    assert code == 0
    # The title, the description, the owner, the port and the five columns.
    assert output.count(seen(HOSTILE[-1])) == 9


def test_lineage_shows_a_hostile_file_name_as_typed(hostile: Path) -> None:
    code, output = cli(hostile, "lineage", "finance.targets")
    assert code == 0
    assert_inert(output)
    assert f"file {seen(SOURCE)} (port raw_items)" in output


def test_query_shows_hostile_column_names_and_values(hostile: Path) -> None:
    sql = 'SELECT name AS "[/x]", category AS "[bold red] :smile:" FROM finance.targets'
    code, output = cli(hostile, "query", sql)
    assert code == 0
    assert_inert(output)
    assert_shown(output)
    header = next(line for line in output.splitlines() if "[/x]" in line)
    assert "[bold red] :smile:" in header


def test_query_shows_control_characters_in_a_column_name(hostile: Path) -> None:
    code, output = cli(hostile, "query", 'SELECT 1 AS "\x1b[2J\x07 \x9b31m"', env=TERMINAL)
    assert code == 0
    assert_inert(output, terminal=True)
    assert "\x9b" not in output  # the one-byte CSI of C1
    assert "\\x1b[2J\\x07 \\x9b31m" in output


def test_check_samples_show_hostile_values(tmp_path: Path, workspace: Path) -> None:
    folder = hostile_folder(workspace)
    contract_file = folder / "contracts" / "targets.odcs.yaml"
    contract = yaml.safe_load(contract_file.read_text())
    contract["schema"][0]["properties"][1]["unique"] = True  # name
    contract_file.write_text(yaml.safe_dump(contract, sort_keys=False))
    with (folder / SOURCE).open("a", newline="") as file:
        for key in ("4", "5"):  # two rows of the same name: a sample of them shows it
            csv.writer(file).writerow([key, EVIL, "", "1.00", "2026-01-04 00:00:00"])
    home = tmp_path / "home"
    assert cli(home, "build", "finance/targets")[0] == 0
    code, output = cli(home, "check", "finance/targets")
    assert code == 1
    assert_inert(output)
    assert "rows that break it" in output
    assert_shown(output)


def test_validate_shows_a_hostile_issue_key_and_value(tmp_path: Path, workspace: Path) -> None:
    folder = scaffold("finance/targets", "source", workspace, {})
    descriptor_file = folder / "dataproduct.yaml"
    descriptor = yaml.safe_load(descriptor_file.read_text())
    descriptor["[/x] \x1b[2J"] = EVIL
    descriptor_file.write_text(yaml.safe_dump(descriptor, sort_keys=False))
    code, output = cli(tmp_path / "home", "validate", "finance/targets", env=TERMINAL)
    assert code == 1
    assert_inert(output, terminal=True)
    assert "unknown key" in output
    assert seen("([/x] \x1b[2J)") in output  # the issue's field
    assert f"(value: {EVIL!r})" in output  # repr writes the controls as escapes


def test_the_status_line_takes_hostile_file_names(tmp_path: Path, workspace: Path) -> None:
    """On a terminal, publish tells each step live: ``running <transformation file>``.

    A step read as markup would fail the build. Which steps get drawn, if any, depends on
    timing: whatever is drawn must carry no sequence of the file names.
    """
    hostile_folder(workspace)
    code, output = cli(tmp_path / "home", "publish", "finance/targets", env=TERMINAL)
    assert code == 0
    assert_inert(output, terminal=True)


def test_error_messages_show_hostile_text_as_typed(tmp_path: Path) -> None:
    code, output = cli(tmp_path / "home", "validate", f"no/{EVIL}")
    assert code == 2
    assert "no product folder" in output
    assert_inert(output)
    assert_shown(output, "[/x] [bold red] :smile: \x1b[2J")


def test_text_built_from_a_raw_value_still_cannot_drive_the_terminal() -> None:
    """The consoles' own guard, for a render function that forgets `shown` one day."""
    out = io.StringIO()
    console = PlainConsole(file=out, force_terminal=True, width=200)
    raw = Text.assemble(("product", "bold"), " \x1b[2J \x9b31m \udcff")
    console.print(raw, "[/x] [link=https://example.org]x[/link] :smile:", markup=True, emoji=True)
    printed = out.getvalue()
    assert_inert(printed, terminal=True)
    assert "\x9b" not in printed
    assert "\\x1b[2J \\x9b31m \\udcff" in printed
    assert "[/x] [link=https://example.org]x[/link] :smile:" in printed
    assert "\x1b[1mproduct" in printed  # Quanta's own style stays


@pytest.fixture
def published(tmp_path: Path, source_product: Path) -> Path:
    """finance.targets published from tmp/products (the working folder) into tmp/home."""
    home = tmp_path / "home"
    code, output = cli(home, "publish", "finance/targets")
    assert code == 0, output
    return home


def absolute_paths(tmp_path: Path) -> tuple[str, ...]:
    return str(tmp_path), str(tmp_path.resolve())


def test_show_tells_the_folder_from_the_working_folder(tmp_path: Path, published: Path) -> None:
    code, output = cli(published, "show", "finance.targets")
    assert code == 0
    assert "folder: finance/targets\n" in output
    for path in absolute_paths(tmp_path):
        assert path not in output


def test_show_json_has_no_absolute_path_and_no_file_list(tmp_path: Path, published: Path) -> None:
    code, output = cli(published, "show", "finance.targets", "--json")
    assert code == 0
    for path in absolute_paths(tmp_path):
        assert path not in output
    assert "file://" not in output
    view = json.loads(output)
    assert view["record"]["folder"] == "finance/targets"
    for port in [*view["current"]["ports"], *view["versions"][0]["ports"]]:
        assert "files" not in port
        assert port["location"] == "home:warehouse/finance/targets__targets__v1"
        assert port["metadata_location"].startswith(f"{port['location']}/metadata/")
    assert view["current"]["ports"][0]["rows"] == 3


def test_list_json_tells_folders_outside_the_working_folder_relatively(
    tmp_path: Path, published: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, output = cli(published, "list", "--json")
    assert code == 0
    for path in absolute_paths(tmp_path):
        assert path not in output
    [record] = json.loads(output)
    assert record["folder"] == "../products/finance/targets"


def test_paths_inside_the_working_folder_are_plain_relative_paths(
    tmp_path: Path, published: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, output = cli(published, "show", "finance.targets", "--json")
    assert code == 0
    port = json.loads(output)["current"]["ports"][0]
    assert port["location"] == "home/warehouse/finance/targets__targets__v1"


def test_the_python_api_keeps_absolute_paths(published: Path) -> None:
    with Mesh.open(published, create=False) as mesh:
        view = mesh.describe("finance.targets")
    assert Path(view.record.folder).is_absolute()
    [port] = view.current.ports
    assert port.location.startswith("file://")
    assert port.files


def test_validate_tells_a_folder_outside_the_working_folder_relatively(
    tmp_path: Path, source_product: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, output = cli(tmp_path / "home", "validate", str(source_product))
    assert code == 0
    assert "passed finance.targets (../products/finance/targets)" in output
    code, output = cli(tmp_path / "home", "validate", str(source_product), "--json")
    assert json.loads(output)[0]["path"] == "../products/finance/targets"
    for path in absolute_paths(tmp_path):
        assert path not in output


def test_the_demo_summary_tells_home_and_workspace_without_absolute_paths(
    tmp_path: Path, workspace: Path
) -> None:
    code, output = cli(tmp_path / "home", "demo", "--scale", "0.001")
    assert code == 0, output
    for path in absolute_paths(tmp_path):
        assert path not in output
    assert "The example mesh is in ../home; its product folders in home:examples/retail." in output
    assert "  quanta list --home ../home\n" in output


def test_contract_export_shows_no_control_character_raw(tmp_path: Path) -> None:
    from quanta.scaffold import scaffold

    folder = scaffold("finance/targets", "source", tmp_path, {})
    contract = folder / "contracts" / "targets.odcs.yaml"
    contract.write_text(
        contract.read_text().replace(
            "description: The targets table.", 'description: "evil \\u202e txet \\u061c"'
        )
    )
    home = tmp_path / "home"
    runner = CliRunner()
    published = runner.invoke(app, ["publish", str(folder), "--home", str(home)])
    assert published.exit_code == 0, published.output

    result = runner.invoke(app, ["contract", "export", "finance.targets", "--home", str(home)])

    assert result.exit_code == 0, result.output
    assert "\u202e" not in result.output
    assert "\\u202E" in result.output

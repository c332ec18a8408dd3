"""The command line: thin, fast to start, with the same error shape everywhere."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quanta.cli import app
from quanta.mesh import Mesh

runner = CliRunner()

HEAVY = ("duckdb", "pyarrow", "pyiceberg", "fastapi", "sqlalchemy", "sqlglot")


def test_help_imports_no_heavy_library() -> None:
    probe = (
        "import sys, quanta.cli\n"
        "try:\n    quanta.cli.app(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_the_command_exits_without_a_last_sweep_of_the_heap() -> None:
    """`main` freezes what the run made, so exit skips collecting it (a tenth of a short
    command); the exit code still comes through."""
    probe = (
        "import gc, sys\nfrom quanta.cli import main\n"
        "sys.argv = ['quanta', 'no-such-command']\n"
        "try:\n    main()\nexcept SystemExit as exit:\n"
        "    print(exit.code, gc.get_freeze_count() > 1000)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stdout.split() == ["2", "True"], result.stderr


def test_every_command_is_listed_in_help() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in (
        "init",
        "validate",
        "build",
        "check",
        "publish",
        "list",
        "show",
        "search",
        "lineage",
        "query",
        "demo",
        "schema",
    ):
        assert command in result.output


def cli(home: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--home", str(home)])
    return result.exit_code, result.output


def test_init_publish_query_from_the_command_line(tmp_path: Path, workspace: Path) -> None:
    home = tmp_path / "home"
    assert cli(home, "init", "finance/targets")[0] == 0
    code, output = cli(home, "publish", "finance/targets", "--json")
    assert code == 0
    [publication] = json.loads(output)
    assert publication["outcome"] == "passed"
    assert publication["version"] == 1
    code, output = cli(home, "query", "SELECT count(*) AS n FROM finance.targets", "--json")
    assert code == 0
    assert json.loads(output) == [{"n": 3}]
    code, output = cli(home, "list", "--json")
    assert [p["id"] for p in json.loads(output)] == ["finance.targets"]
    code, output = cli(home, "show", "finance.targets", "--json")
    assert json.loads(output)["current"]["ports"][0]["rows"] == 3
    code, output = cli(home, "search", "item", "--json")
    assert json.loads(output)[0]["product"] == "finance.targets"
    code, output = cli(home, "lineage", "finance.targets", "--json")
    assert json.loads(output)["upstream"][0]["source"] == "data/items.csv"
    code, output = cli(home, "check", "finance.targets", "--json")
    assert code == 0
    assert json.loads(output)[0]["outcome"] == "passed"


def test_build_then_check_a_folder_without_publishing(tmp_path: Path, workspace: Path) -> None:
    home = tmp_path / "home"
    cli(home, "init", "finance/targets")
    code, output = cli(home, "build", "finance/targets", "--json")
    assert code == 0
    assert json.loads(output)[0]["rows"] == 3
    code, output = cli(home, "check", "finance/targets", "--json")
    assert code == 0
    assert json.loads(output)[0]["outcome"] == "passed"
    assert cli(home, "list", "--json")[1].strip() == "[]"


def test_a_validation_failure_names_file_line_and_hint(tmp_path: Path, workspace: Path) -> None:
    home = tmp_path / "home"
    cli(home, "init", "finance/targets")
    descriptor = workspace / "finance" / "targets" / "dataproduct.yaml"
    descriptor.write_text(descriptor.read_text().replace("status: active", "statuss: active"))
    code, output = cli(home, "validate", "finance/targets")
    assert code == 1
    assert "finance/targets/dataproduct.yaml:6 (statuss): unknown key 'statuss'" in output
    assert "hint: did you mean 'status'?" in output
    assert "Traceback" not in output


@pytest.mark.parametrize(
    ("args", "code", "error"),
    [
        (["show", "nowhere.nothing"], "not_found", "no product 'nowhere.nothing' is published"),
        (["show", "../etc"], "user_error", "not a product id"),
        (["query", "SELECT * FROM read_csv('/etc/passwd')"], "query_refused", "read_csv"),
        (["validate", "no/such/folder"], "user_error", "no product folder"),
    ],
)
def test_errors_have_one_json_shape_and_exit_2(
    tmp_path: Path, args: list[str], code: str, error: str
) -> None:
    Mesh.open(tmp_path / "home").close()  # an empty mesh
    exit_code, output = cli(tmp_path / "home", *args, "--json")
    assert exit_code == 2
    body = json.loads(output)
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "issues"}
    assert body["error"]["code"] == code
    assert error in body["error"]["message"]


def test_demo_refuses_to_wipe_a_folder_that_is_not_a_mesh(tmp_path: Path) -> None:
    home = tmp_path / "project"
    home.mkdir()
    (home / "notes.txt").write_text("keep me")
    code, output = cli(home, "demo", "--force", "--scale", "0.001")
    assert code == 2
    assert "will not delete them" in output
    assert (home / "notes.txt").read_text() == "keep me"


def test_demo_builds_the_example_mesh(tmp_path: Path) -> None:
    home = tmp_path / "home"
    code, output = cli(home, "demo", "--scale", "0.001")
    assert code == 0, output
    assert "quanta show marketing.attribution" in output
    with Mesh.open(home) as mesh:
        assert len(mesh.products()) == 6
    code, output = cli(home, "demo", "--scale", "0.001")
    assert code == 2
    assert "--force" in output
    assert cli(home, "demo", "--scale", "0.001", "--force")[0] == 0


def test_read_commands_do_not_create_a_mesh_and_name_what_is_missing(tmp_path: Path) -> None:
    home = tmp_path / "typo"
    code, output = cli(home, "list")
    assert code == 2
    assert "there is no mesh at" in output
    assert not home.exists()
    cli(tmp_path / "home", "demo", "--scale", "0.001")
    code, output = cli(tmp_path / "home", "show", "nowhere.nothing", "--json")
    assert code == 2
    assert json.loads(output)["error"]["message"] == (
        "no product 'nowhere.nothing' is published: see quanta list"
    )


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["init", "x/y", "--dir", "/proc/no/such"], {}, "cannot create"),
        (["list"], {"QUANTA_BUILD_THREADS": "abc"}, "QUANTA_BUILD_THREADS is not valid"),
        (["query", "SELECT 1", "--limit", "-1"], {}, "greater than or equal to 0"),
    ],
)
def test_user_mistakes_get_a_message_not_a_traceback(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    result = runner.invoke(app, [*args, "--home", str(tmp_path / "home")], env=env)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)

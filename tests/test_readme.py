"""The README's tutorial works as written: its commands run in order on a demo mesh."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).parents[1] / "README.md"


def tutorial_blocks() -> list[tuple[str, str]]:
    text = README.read_text()
    tutorial = text[text.index("## Tutorial") : text.index("## The commands")]
    return re.findall(r"```(\w+)\n(.*?)```", tutorial, flags=re.DOTALL)


def test_the_tutorial_has_shell_yaml_and_python_steps() -> None:
    kinds = [kind for kind, _ in tutorial_blocks()]
    assert kinds.count("sh") >= 4
    assert "yaml" in kinds
    assert "python" in kinds


@pytest.fixture
def shell(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["QUANTA_HOME"] = str(tmp_path / "home")
    subprocess.run(
        ["quanta", "demo", "--scale", "0.01"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
    )
    return env


def test_following_the_tutorial_creates_publishes_and_queries_a_product(
    tmp_path: Path, shell: dict[str, str]
) -> None:
    outputs = []
    exported: list[str] = []  # what earlier steps export, as one shell session keeps it
    for kind, body in tutorial_blocks():
        if kind == "sh":
            exported += [line for line in body.splitlines() if line.startswith("export ")]
            result = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", "\n".join([*exported, body])],
                cwd=tmp_path,
                env=shell,
                capture_output=True,
                text=True,
            )
            assert result.returncode == 0, result.stdout + result.stderr
            outputs.append(result.stdout)
        elif kind == "yaml":
            contract = tmp_path / "finance" / "targets" / "contracts" / "targets.odcs.yaml"
            text = contract.read_text()
            start, end = text.index("schema:\n"), text.index("slaProperties:")
            contract.write_text(text[:start] + body + text[end:])
        elif kind == "python":
            variables = dict(line.removeprefix("export ").split("=", 1) for line in exported)
            result = subprocess.run(
                [sys.executable, "-c", body],
                cwd=tmp_path,
                env={**shell, **variables},
                capture_output=True,
                text=True,
            )
            assert result.returncode == 0, result.stderr
    protected, clear = [out[out.index("customer_id") :] for out in outputs if "birth_date" in out]
    assert "c-0000001" in protected
    assert "@" not in protected  # Ana reads the emails pseudonymized
    assert "@mail.example" in clear  # Ines, approved for PII in clear, reads them
    assert any("blocking columns-classified" in out for out in outputs)
    joined = next(out for out in outputs if "pct" in out)
    assert "2026-10-28" in joined
    assert "2026-10-29" in joined
    assert joined.count("EUR") == 2
    assert joined.count("GBP") == 2
    erased = next(out for out in outputs if "receipt hash" in out)
    assert "rows deleted" in erased
    assert "rebuilt sales.daily_revenue" in erased
    assert (tmp_path / "finance" / "target_report" / "dataproduct.yaml").is_file()
    impact = next(out for out in outputs if "it would break its consumers" in out)
    assert "breaks marketing.attribution (team marketing-analytics" in impact
    assert "breaks sales.daily_revenue" in impact
    assert "blocked, as expected" in impact
    lineage = outputs[-1]
    assert "checkout.orders.orders v" in lineage


def test_each_command_to_look_around_after_the_demo_runs(
    tmp_path: Path, shell: dict[str, str]
) -> None:
    text = README.read_text()
    start = text.index("Then look around:")
    block = re.search(r"```sh\n(.*?)```", text[start:], flags=re.DOTALL)
    assert block is not None
    commands = [line.replace(".venv/bin/", "") for line in block.group(1).splitlines() if line]
    assert len(commands) >= 5
    for command in commands:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", command],
            cwd=tmp_path,
            env=shell,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"
        assert "Traceback" not in result.stderr

"""Fixtures: real meshes in temporary folders (DuckDB, SQLite, Iceberg; nothing mocked)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from quanta.mesh import Mesh
from quanta.scaffold import scaffold

DEMO_SCALE = 0.01  # 10,000 orders: the whole example mesh in a few seconds


@pytest.fixture
def mesh(tmp_path: Path) -> Iterator[Mesh]:
    with Mesh.open(tmp_path / "home") as opened:
        yield opened


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder for product folders, also the working folder (short file labels)."""
    folder = tmp_path / "products"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture
def source_product(workspace: Path) -> Path:
    """A freshly scaffolded source-aligned product, finance.targets."""
    return scaffold("finance/targets", "source", workspace, {})


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    """The retail example mesh, published once for the whole session. Do not change it."""
    home = tmp_path_factory.mktemp("demo") / "home"
    with Mesh.open(home) as opened:
        _, publications = opened.demo(scale=DEMO_SCALE)
        failed = [p for p in publications if not p.outcome.ok]
        assert not failed, failed
        yield opened

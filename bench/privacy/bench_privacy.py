"""What privacy costs: erasing one subject, and enforcing retention, over the example mesh.

The example mesh (``examples/retail``, what ``quanta demo`` builds) is built once at
``--scale`` (its build is timed and reported, not compared), into a mesh home at one fixed
path under ``bench/.work/privacy/``, and moved aside. Every measured run copies it back to
that same path (Iceberg metadata and the catalog hold absolute ``file://`` paths: a copy at
another path would still read, and delete, the original's files), then runs in a process
of its own, which times the one call and reports its peak memory; the copy is deleted
afterwards. Quanta and the baseline alternate (Quanta run 1, baseline run 1, baseline
run 2, Quanta run 2, ...); each time is the median over ``--runs`` runs, a ratio is the
ratio of two medians. The Mesh is opened before the timing starts; the copy is flushed to
disk (``sync``) before each run, so that no write-back of it runs during the timing.

1. **erasure**: ``Mesh.erase("customer", "c-0000042", reason, actor=<the governance
   group's member>)``: the subject's identifiers found through the mapping products, their
   rows deleted from every version of the five tables holding them, old snapshots expired
   and their files deleted, verified, the check samples and the catalog scrubbed, the two
   aggregates (sales.daily_revenue, marketing.attribution) rebuilt. Reported in total and
   without the rebuilds (the time inside ``quanta.privacy.rebuild.publish_unless_unchanged``,
   which the benchmark wraps). Baseline (`baseline.py`): on the same tables, pyiceberg
   alone, for each tagged snapshot a branch, ``table.delete(filter)`` on it, the tag (and
   ``main``) moved to the result, the branch dropped; then ``expire_snapshots()`` of the
   unreferenced snapshots and deleting every file of the table's folder no kept snapshot
   references. Its filter holds the same identifier values, found beforehand (DuckDB over
   the tables' files, outside any timing). Targets: at most 60 s; at most 1.5x the baseline.
2. **retention**: ``Mesh.enforce_retention(actor=..., now=2027-10-01)``: web.sessions loses
   its rows before 2026-09-01 (13 months); the other tables with a retention by a time
   column hold no row past it. Baseline: the same recipe with ``column < cutoff`` on each
   of those four tables.

Each run's result is checked against the other side's: the same rows removed per table,
the same identifiers found, nothing left matching afterwards. Quanta's time is split into
steps by wrapping the storage, catalog and privacy functions it calls (exclusive times:
a step nested in another counts once), per table (``rewrite_table``) and, for the rebuilds,
per publish step; ``--profile`` runs one more erasure under cProfile. Peak memory is each
run's ``ru_maxrss`` (a forked child starts at its parent's size, so a child's peak is never
below the parent's at the fork).

At scale 1.0 the mesh holds about 2.6M rows (1M orders, 1M web sessions, 100k customers,
80k accounts, 400k identity-map sessions, two small aggregates); about 50M rows is scale 19.

    .venv/bin/python bench/privacy/bench_privacy.py [--scale 19.4] [--runs 3]
        [--only erasure,retention] [--profile] [--keep] [--reuse] [--json]

``--keep`` leaves the built mesh in ``bench/.work/privacy/pristine`` and ``--reuse``
takes it (when built at the same scale) instead of building again.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import importlib
import io
import json
import os
import platform
import pstats
import resource
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
import baseline

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: common.py
from common import load_average, median, ratio, say
from common import rounded as _r

WORK = Path(__file__).resolve().parents[1] / ".work"
BASE = WORK / "privacy"
HOME = BASE / "home"  # every run's mesh home: always this one path
PRISTINE = BASE / "pristine"  # the built mesh, moved aside, copied back to HOME
BUILT = BASE / "built.json"
GOVERNOR = "ines.moreau@retail.example"  # the retail mesh's governance group
CONCEPT, SUBJECT = "customer", "c-0000042"
REASON = "GDPR article 17 request of the privacy benchmark"
NOW = datetime(2027, 10, 1, tzinfo=UTC)
FIGURES = ("erasure", "retention")
SIDES = {
    "erasure": ("quanta-erase", "baseline-erase"),
    "retention": ("quanta-retain", "baseline-retain"),
}
TARGET_S = 60.0
TARGET_RATIO = 1.5
ROWS_PER_SCALE = 2_580_000  # about, at scale 1.0


def peak_mb() -> dict[str, float]:
    """This process's peak resident memory, and its children's (Linux: ru_maxrss in KiB)."""
    mine = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"self_mb": round(mine / 1024, 1), "children_mb": round(children / 1024, 1)}


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


# -- timing Quanta's steps (in the child processes) -------------------------------------------
class Steps:
    """Exclusive seconds per step: a step called inside another is taken out of the outer
    one's time; inside an opaque step (a rebuild: a whole publish) nothing is split."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.inclusive: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.stack: list[list[Any]] = []
        self.opaque = 0
        self.tables: dict[str, float] = defaultdict(float)
        self.publish_steps: dict[str, float] = defaultdict(float)

    def per_publish_step(self, module: Any) -> None:
        """Time each step of each publish (``module._run_part``: a rebuild's build,
        check, compare, register...) apart."""
        original = module._run_part
        found = self.publish_steps

        @functools.wraps(original)
        def timed(part: Any, context: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(part, context)
            finally:
                found[f"{context.product_id} {context.step}"] += time.perf_counter() - started

        module._run_part = timed

    def per_table(self, module: Any) -> None:
        """Time each call of ``module.rewrite_table`` (all steps of one table) apart."""
        original = module.rewrite_table
        tables = self.tables

        @functools.wraps(original)
        def timed(context: Any, table: Any, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(context, table, *args, **kwargs)
            finally:
                tables[str(table)] += time.perf_counter() - started

        module.rewrite_table = timed

    def wrap(self, owner: Any, attribute: str, step: str, *, opaque: bool = False) -> None:
        original = getattr(owner, attribute)
        steps = self

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if steps.opaque:
                return original(*args, **kwargs)
            frame = [step, time.perf_counter(), 0.0]
            steps.stack.append(frame)
            steps.opaque += opaque
            try:
                return original(*args, **kwargs)
            finally:
                steps.opaque -= opaque
                steps.stack.pop()
                elapsed = time.perf_counter() - frame[1]
                steps.seconds[step] += elapsed - frame[2]
                steps.inclusive[step] += elapsed
                steps.calls[step] += 1
                if steps.stack:
                    steps.stack[-1][2] += elapsed

        setattr(owner, attribute, timed)

    def report(self, total: float) -> dict[str, Any]:
        other = total - sum(self.seconds.values())
        found = {step: _r(s) for step, s in sorted(self.seconds.items(), key=lambda x: -x[1])}
        return {
            "seconds": {**found, "other (start, seal, bookkeeping)": _r(other)},
            "calls": dict(self.calls),
            "tables": {table: _r(s) for table, s in sorted(self.tables.items())},
            "publish_steps": {step: _r(s) for step, s in self.publish_steps.items()},
        }


def instrument() -> Steps:
    from pyiceberg.table import Table

    import quanta.privacy.erasure
    import quanta.privacy.rebuild
    import quanta.privacy.retention
    import quanta.privacy.rewrite
    import quanta.publishing.pipeline
    import quanta.storage.iceberg as iceberg
    from quanta.governance.audit import Audit
    from quanta.privacy.erasure import Erasures
    from quanta.stores.catalog import SqlCatalogStore
    from quanta.stores.database import Database
    from quanta.stores.privacy import SqlPrivacyStore

    steps = Steps()
    steps.per_table(quanta.privacy.erasure)
    steps.per_table(quanta.privacy.retention)
    steps.per_publish_step(quanta.publishing.pipeline)
    storage = iceberg.IcebergStorage
    steps.wrap(Erasures, "identifiers", "find identifiers (mapping look-ups)")
    steps.wrap(storage, "rewrite", "rewrite: commits of the new snapshots")
    steps.wrap(iceberg, "_filtered", "rewrite: DuckDB finds the rows, writes the files")
    steps.wrap(Table, "delete", "rewrite: pyiceberg table.delete (partitioned, nested)")
    steps.wrap(iceberg, "_live_files", "rewrite: manifest reads (_live_files)")
    steps.wrap(storage, "repoint", "repoint refs")
    steps.wrap(storage, "staged", "staged: files and stats from manifests")
    steps.wrap(storage, "_table", "table loads (metadata)")
    steps.wrap(storage, "_reload", "table loads (metadata)")
    steps.wrap(storage, "sweep", "sweep: expire and delete files")
    steps.wrap(SqlCatalogStore, "move_ports", "catalog: move ports")
    steps.wrap(quanta.privacy.rewrite, "verify", "verify: DuckDB count per port")
    steps.wrap(SqlCatalogStore, "scrub_samples", "scrub check samples")
    steps.wrap(Database, "scrub", "VACUUM the catalog")
    steps.wrap(SqlPrivacyStore, "save", "save progress")
    steps.wrap(SqlPrivacyStore, "save_retention", "save progress")
    steps.wrap(Audit, "record", "audit log")
    steps.wrap(
        quanta.privacy.rebuild, "publish_unless_unchanged", "rebuild aggregates", opaque=True
    )
    return steps


def by_table(ports: list[Any]) -> dict[str, int]:
    found: dict[str, int] = defaultdict(int)
    for port in ports:
        found[port.table] += port.rows_removed
    return dict(sorted(found.items()))


def child_build(scale: float) -> dict[str, Any]:
    from quanta.mesh import Mesh

    with Mesh.open(HOME) as mesh:
        started = time.perf_counter()
        _, publications = mesh.demo(scale=scale, progress=lambda p, step: say(f"  {p}: {step}"))
        seconds = time.perf_counter() - started
    failed = [f"{p.product}: {p.reason}" for p in publications if not p.outcome.ok]
    return {
        "seconds": seconds,
        "publish_s": {p.product: _r(p.seconds) for p in publications},
        "failed": failed,
    }


def child_quanta(side: str, profile: bool) -> dict[str, Any]:
    from quanta.mesh import Mesh
    from quanta.model.actor import Actor

    steps = instrument()
    actor = Actor(name=GOVERNOR)
    profiler = cProfile.Profile() if profile else None
    opened = time.perf_counter()
    with Mesh.open(HOME) as mesh:
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        if side == "quanta-erase":
            done: Any = mesh.erase(CONCEPT, SUBJECT, REASON, actor=actor)
        else:
            done = mesh.enforce_retention(actor=actor, now=NOW)
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - started
    result: dict[str, Any] = {
        "seconds": seconds,
        "open_s": started - opened,
        "steps": steps.report(seconds),
        "rebuild_s": steps.inclusive.get("rebuild aggregates", 0.0),
    }
    if side == "quanta-erase":
        receipt = done.receipt
        result.update(
            state=str(done.state),
            identifiers=dict(receipt.identifiers) if receipt else {},
            rows_removed=by_table(receipt.ports) if receipt else {},
            remaining=sum(p.remaining or 0 for p in receipt.ports) if receipt else None,
            rebuilt=[f"{r.product}: {r.outcome} v{r.version}" for r in receipt.rebuilt]
            if receipt
            else [],
            swept_files=sum(s.files for s in receipt.swept) if receipt else 0,
        )
    else:
        result.update(
            rows_removed=by_table(done.ports),
            remaining=sum(p.remaining or 0 for p in done.ports),
            skipped=len(done.skipped),
            swept_files=sum(s.files for s in done.swept),
        )
    if profiler:
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(25)
        result["profile"] = text.getvalue()
    return result


def child_baseline(side: str, plan: dict[str, Any]) -> dict[str, Any]:
    if side == "baseline-erase":
        filters = baseline.erasure_filters(plan["identifiers"])
    else:
        filters = baseline.retention_filters(NOW)
    started = time.perf_counter()
    done = baseline.run(HOME, filters, f"bench-{side}")
    seconds = time.perf_counter() - started
    left = baseline.remaining(HOME, filters)  # after the timing
    return {
        "seconds": seconds,
        **baseline.summary(done),
        "remaining": sum(left.values()),
    }


def child(args: argparse.Namespace) -> int:
    # What the calls import when first needed: imported now, outside any timing.
    for module in (
        "quanta.build.transform",
        "quanta.build.sql_guard",
        "quanta.build.sql_parse",
        "quanta.storage.iceberg",
        "quanta.privacy.erasure",
        "quanta.privacy.retention",
        "quanta.privacy.rebuild",
        "quanta.publishing",
        "pyiceberg.io.pyarrow",
    ):
        importlib.import_module(module)
    if args.child == "build":
        result = child_build(args.scale)
    elif args.child.startswith("quanta"):
        result = child_quanta(args.child, args.profile)
    else:
        result = child_baseline(args.child, json.loads(Path(args.plan).read_text()))
    result["peak"] = peak_mb()
    print(json.dumps(result))
    return 0


# -- the parent: building once, copying, running the children --------------------------------
def run_child(side: str, scale: float = 0.0, profile: bool = False) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", side, "--plan", str(BUILT)]
    command += ["--scale", str(scale)] + (["--profile"] if profile else [])
    started = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    wall = time.perf_counter() - started
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        raise SystemExit(f"{side} failed (exit {done.returncode}): {done.stdout[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    result["wall_s"] = wall
    return result


def fresh() -> None:
    """The built mesh, copied to the one path its metadata names, and flushed to disk."""
    if HOME.exists():
        shutil.rmtree(HOME)
    shutil.copytree(PRISTINE, HOME, symlinks=True)
    os.sync()


def build(scale: float, reuse: bool) -> dict[str, Any]:
    if reuse and BUILT.is_file() and PRISTINE.is_dir():
        built: dict[str, Any] = json.loads(BUILT.read_text())
        if built.get("scale") == scale:
            say(f"reusing the mesh built at scale {scale} in {PRISTINE}")
            return built
    for path in (HOME, PRISTINE):
        if path.exists():
            shutil.rmtree(path)
    BASE.mkdir(parents=True, exist_ok=True)
    say(f"building the example mesh at scale {scale} (about {scale * ROWS_PER_SCALE:,.0f} rows)")
    made = run_child("build", scale)
    if made["failed"]:
        raise SystemExit(f"the demo did not publish: {made['failed']}")
    say(f"built in {made['seconds']:.1f} s; finding the subject's identifiers")
    rows = baseline.table_rows(HOME)
    started = time.perf_counter()
    identifiers = baseline.subject_identifiers(HOME, SUBJECT)
    looked_up = time.perf_counter() - started
    built = {
        "scale": scale,
        "build_s": _r(made["seconds"]),
        "build_wall_s": _r(made["wall_s"]),
        "build_peak_mb": made["peak"]["self_mb"],
        "build_children_peak_mb": made["peak"]["children_mb"],
        "publish_s": made["publish_s"],
        "rows": rows,
        "total_rows": sum(rows.values()),
        "home_bytes": folder_bytes(HOME),
        "identifiers": identifiers,
        "identifier_lookup_s": _r(looked_up),
    }
    HOME.rename(PRISTINE)  # its metadata names HOME: only ever read again as a copy there
    BUILT.write_text(json.dumps(built, indent=2))
    return built


def checked(
    quanta: list[dict[str, Any]], base: list[dict[str, Any]], built: dict[str, Any]
) -> list[str]:
    """What differs between the two sides' results, or is left that should not be."""
    problems = []
    for run in quanta + base:
        if run.get("remaining"):
            problems.append(f"{run['remaining']} matching rows left after a run")
    rows = [run["rows_removed"] for run in quanta + base]
    if any(found != rows[0] for found in rows):
        problems.append(f"the rows removed differ: {rows}")
    wanted = {
        baseline.IDENTIFIER_TYPES[column]: len(values)
        for column, values in built["identifiers"].items()
    }
    for run in quanta:
        if "identifiers" in run and run["identifiers"] != wanted:
            problems.append(f"identifiers: Quanta found {run['identifiers']}, baseline {wanted}")
        if "state" in run and run["state"] != "done":
            problems.append(f"the erasure ended {run['state']}")
    return sorted(set(problems))


def bench_figure(figure: str, runs: int, built: dict[str, Any]) -> dict[str, Any]:
    quanta_side, base_side = SIDES[figure]
    found: dict[str, list[dict[str, Any]]] = {quanta_side: [], base_side: []}
    copies: list[float] = []
    for number in range(1, runs + 1):
        for side in (quanta_side, base_side) if number % 2 else (base_side, quanta_side):
            started = time.perf_counter()
            fresh()
            copies.append(time.perf_counter() - started)
            result = run_child(side)
            found[side].append(result)
            say(f"{figure}: run {number}/{runs}, {side}: {result['seconds']:.2f} s")
            shutil.rmtree(HOME)
    quanta, base = found[quanta_side], found[base_side]
    q = median([run["seconds"] for run in quanta])
    without = median([run["seconds"] - run["rebuild_s"] for run in quanta])
    b = median([run["seconds"] for run in base])
    steps: dict[str, list[float]] = defaultdict(list)
    for run in quanta:
        for step, seconds in run["steps"]["seconds"].items():
            steps[step].append(seconds)
    parts: dict[str, list[float]] = defaultdict(list)
    for run in base:
        for part, seconds in run["parts"].items():
            parts[part].append(seconds)
    rebuild: dict[str, list[float]] = defaultdict(list)
    for run in quanta:
        for step, seconds in run["steps"]["publish_steps"].items():
            rebuild[step].append(seconds)
    tables: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for side, side_runs in (("quanta", quanta), ("baseline", base)):
        for run in side_runs:
            seconds = run["steps"]["tables"] if side == "quanta" else run["tables"]
            for name, value in seconds.items():
                tables[name][side].append(value)
    problems = checked(quanta, base, built)
    return {
        "quanta_s": _r(q),
        "without_rebuild_s": _r(without),
        "rebuild_s": _r(median([run["rebuild_s"] for run in quanta])),
        "baseline_s": _r(b),
        "ratio": _r(ratio(q, b), 2),
        "ratio_without_rebuild": _r(ratio(without, b), 2),
        "rows_removed": quanta[0]["rows_removed"],
        "rebuilt": quanta[0].get("rebuilt", []),
        "identifiers": quanta[0].get("identifiers", {}),
        "files_deleted": {"quanta": quanta[0]["swept_files"], "baseline": base[0]["files_deleted"]},
        "steps_median_s": {step: _r(median(v)) for step, v in steps.items()},
        "baseline_parts_median_s": {part: _r(median(v)) for part, v in parts.items()},
        "rebuild_steps_median_s": {step: _r(median(v)) for step, v in rebuild.items()},
        "tables_median_s": {
            name: {side: _r(median(v)) for side, v in by_side.items()}
            for name, by_side in sorted(tables.items())
        },
        "peak_mb": {
            "quanta": max(run["peak"]["self_mb"] for run in quanta),
            "quanta_children": max(run["peak"]["children_mb"] for run in quanta),
            "baseline": max(run["peak"]["self_mb"] for run in base),
        },
        "copy_s": _r(median(copies)),
        "checked": not problems,
        "problems": problems,
        "runs": {
            "quanta_s": [_r(run["seconds"]) for run in quanta],
            "without_rebuild_s": [_r(run["seconds"] - run["rebuild_s"]) for run in quanta],
            "baseline_s": [_r(run["seconds"]) for run in base],
            "open_s": [_r(run["open_s"]) for run in quanta],
        },
    }


def profiled() -> str:
    fresh()
    try:
        result = run_child("quanta-erase", profile=True)
    finally:
        shutil.rmtree(HOME)
    say(f"profiled erasure: {result['seconds']:.2f} s (under cProfile)")
    return str(result.get("profile", ""))


def bench(args: argparse.Namespace, only: list[str]) -> dict[str, Any]:
    WORK.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(WORK).free
    say(f"free disk under {WORK}: {free / 1e9:.1f} GB")
    result: dict[str, Any] = {
        "runs": args.runs,
        "versions": {
            "python": platform.python_version(),
            "quanta": version("quanta"),
            "duckdb": duckdb.__version__,
            "pyiceberg": version("pyiceberg"),
            "pyarrow": version("pyarrow"),
        },
        "machine": {
            "cpus": os.cpu_count(),
            "system": platform.platform(),
            "load_average": load_average(),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        },
    }
    try:
        built = build(args.scale, args.reuse)
        result["mesh"] = {k: v for k, v in built.items() if k != "identifiers"}
        needed = 2.5 * built["home_bytes"]
        if shutil.disk_usage(WORK).free < needed:
            raise SystemExit(f"not enough disk for a copy of the mesh ({needed / 1e9:.1f} GB)")
        for figure in FIGURES:
            if figure in only:
                result[figure] = bench_figure(figure, args.runs, built)
                result[figure]["load_average_after"] = load_average()
        if args.profile:
            result["profile"] = profiled()
    finally:
        if HOME.exists():
            shutil.rmtree(HOME)
        if not args.keep:
            shutil.rmtree(BASE, ignore_errors=True)
    result["peak_children_mb"] = peak_mb()["children_mb"]
    return result


def failed(result: dict[str, Any]) -> bool:
    erasure, retention = result.get("erasure"), result.get("retention")
    if any(f is not None and not f["checked"] for f in (erasure, retention)):
        return True
    return erasure is not None and not (
        erasure["quanta_s"] <= TARGET_S and (erasure["ratio"] or 0) <= TARGET_RATIO
    )


def table(result: dict[str, Any]) -> str:
    mesh = result["mesh"]
    headers = ["figure", "quanta s", "baseline s", "ratio", "target", ""]
    lines: list[list[str]] = []
    notes: list[str] = []

    def verdict(met: bool, figure: dict[str, Any]) -> str:
        if not figure["checked"]:
            return "WRONG RESULT"
        return "met" if met else "NOT MET"

    if "erasure" in result:
        e = result["erasure"]
        total_met = e["quanta_s"] <= TARGET_S and (e["ratio"] or 0) <= TARGET_RATIO
        lines.append([
            "erasure: total (2 aggregates rebuilt)", f"{e['quanta_s']:.2f}",
            f"{e['baseline_s']:.2f}", f"{e['ratio']:.2f}x",
            f"<= {TARGET_S:.0f} s, <= {TARGET_RATIO}x", verdict(total_met, e),
        ])  # fmt: skip
        lines.append([
            "erasure: without the rebuilds", f"{e['without_rebuild_s']:.2f}",
            f"{e['baseline_s']:.2f}", f"{e['ratio_without_rebuild']:.2f}x",
            f"<= {TARGET_RATIO}x", verdict((e["ratio_without_rebuild"] or 0) <= TARGET_RATIO, e),
        ])  # fmt: skip
    if "retention" in result:
        r = result["retention"]
        lines.append([
            "retention: now 2027-10-01", f"{r['quanta_s']:.2f}", f"{r['baseline_s']:.2f}",
            f"{r['ratio']:.2f}x", "-", verdict(True, r) if not r["checked"] else "",
        ])  # fmt: skip
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers)]

    def render(cells: list[str]) -> str:
        left = {0, 4, 5}
        return "  ".join(
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rows = [f"  {name:<42} {count:>12,}" for name, count in mesh["rows"].items()]
    for name in FIGURES:
        if name not in result:
            continue
        f = result[name]
        runs = f["runs"]
        notes.append(
            f"{name}: runs quanta {runs['quanta_s']}, without rebuilds "
            f"{runs['without_rebuild_s']}, baseline {runs['baseline_s']} s; rebuilds "
            f"{f['rebuild_s']} s; opening the Mesh (not timed) {median(runs['open_s']):.2f} s"
        )
        notes.append(
            f"{name}: rows removed {f['rows_removed']}; files deleted {f['files_deleted']}"
            + (f"; rebuilt {f['rebuilt']}" if f["rebuilt"] else "")
            + (f"; identifiers {f['identifiers']}" if f["identifiers"] else "")
        )
        notes.append(
            f"{name}: peak RSS quanta {f['peak_mb']['quanta']:,.0f} MB (its children "
            f"{f['peak_mb']['quanta_children']:,.0f} MB), baseline "
            f"{f['peak_mb']['baseline']:,.0f} MB; copying the mesh {f['copy_s']:.1f} s a run"
        )
        steps = "; ".join(f"{k} {v}" for k, v in f["steps_median_s"].items())
        notes.append(f"{name}: Quanta's steps (median s, exclusive): {steps}")
        parts = ", ".join(f"{k} {v}" for k, v in f["baseline_parts_median_s"].items())
        notes.append(f"{name}: baseline's parts (median s): {parts}")
        tables = "; ".join(
            f"{t} {v.get('quanta', 0):.2f} / {v.get('baseline', 0):.2f}"
            for t, v in f["tables_median_s"].items()
        )
        notes.append(f"{name}: per table, quanta / baseline (median s): {tables}")
        if f["rebuild_steps_median_s"]:
            rebuilt = "; ".join(f"{k} {v}" for k, v in f["rebuild_steps_median_s"].items() if v)
            notes.append(f"{name}: the rebuilds' publish steps (median s): {rebuilt}")
        notes.extend(f"{name}: PROBLEM: {problem}" for problem in f["problems"])
    versions = ", ".join(f"{k} {v}" for k, v in result["versions"].items())
    machine = result["machine"]
    after = ", ".join(
        f"{name} {result[name]['load_average_after']}" for name in FIGURES if name in result
    )
    return "\n".join([
        f"Privacy costs at scale {mesh['scale']} ({mesh['total_rows']:,} rows): median of "
        f"{result['runs']} interleaved run(s), {machine['cpus']} CPUs, "
        f"{machine['memory_gb']} GB, load average {machine['load_average']} (after {after})",
        versions,
        "",
        f"demo build: {mesh['build_s']:.1f} s (peak RSS {mesh['build_peak_mb']:,.0f} MB, its "
        f"children {mesh['build_children_peak_mb']:,.0f} MB); mesh home "
        f"{mesh['home_bytes'] / 1e9:.2f} GB; rows per table:",
        *rows,
        "",
        render(headers),
        "  ".join("-" * w for w in widths),
        *(render(line) for line in lines),
        "",
        *notes,
        f"peak RSS of all children: {result['peak_children_mb']:,.0f} MB",
        *(["", "profile of one erasure:", result["profile"]] if "profile" in result else []),
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scale", type=float, default=19.4, help="scale of the example mesh")
    parser.add_argument("--runs", type=int, default=3, help="runs of each side (median)")
    parser.add_argument(
        "--only", default=",".join(FIGURES), help=f"some of {','.join(FIGURES)} (default: all)"
    )
    parser.add_argument("--profile", action="store_true", help="profile one more erasure")
    parser.add_argument("--keep", action="store_true", help="keep the built mesh afterwards")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept mesh of that scale")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--plan", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    if args.runs < 1 or args.scale <= 0:
        parser.error("--runs must be at least 1 and --scale above 0")
    if not only or any(name not in FIGURES for name in only):
        parser.error(f"--only takes some of {','.join(FIGURES)}")
    result = bench(args, only)
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 1 if failed(result) else 0


if __name__ == "__main__":
    sys.exit(main())

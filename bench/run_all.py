"""``make bench``: every workload, every implementation, one table of medians and ratios.

Sets up the peers' virtual environments under ``bench/.envs`` (once), runs each
implementation on each workload in its own subprocess, prints one markdown
table and writes it, with the date, core count and Python version, to
``bench/RESULTS.md``. ``--quick`` runs only the 1,000 and 10,000-task sizes.

Per-task figures are medians of process CPU time divided by the task count:
the machine is shared, and CPU time is what the scheduler itself costs.
Makespans are medians of wall-clock time. Ratios are against the hand-written
``graphlib`` + ``asyncio.create_task`` baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from _harness import BENCH, Python, median, our_python, peer_python, run_worker
from workloads import BARRIER_CRITICAL_PATH

__all__ = ["main"]

REPEATS = {1_000: 10, 10_000: 10, 100_000: 5}
"""Repeats per size (5 for other sizes), taken in ROUNDS rounds."""
ROUNDS = 5
"""Each round runs every implementation once, so a change of load falls on all alike.
Five rounds of few repeats each, rather than three of more: on a shared machine a
whole process can land in a slow spell, and a median over more processes holds."""
ASTRUM012_MAX_TASKS = 1_000
"""Its scheduler grows faster than the task count (a 10,000-task chain takes ~9 s)."""
REGISTRY_PEER_TASKS = 300
"""Its registry build is quadratic: about 12 s of CPU for a 1,000-task chain."""
VALUE_PEER_TASKS = 100
"""With data relations it is slower still: about 1 s of CPU for a 100-task value chain."""

COLUMNS = {
    "baseline": "baseline",
    "astrum": "astrum",
    "uvloop": "astrum + uvloop",
    "dagather": "dagather",
    "dask": "dask threads",
    "astrum012": "astrum 0.1.2",
}


@dataclass
class Row:
    workload: str
    tasks: str
    measure: str
    target: str
    cells: dict[str, str] = field(default_factory=dict)
    met: list[bool] = field(default_factory=list)

    def markdown(self) -> str:
        cells = [self.cells.get(column, "") for column in COLUMNS]
        verdict = "" if not self.met else ("yes" if all(self.met) else "**no**")
        return (
            "| "
            + " | ".join([self.workload, self.tasks, self.measure, *cells, self.target, verdict])
            + " |"
        )


@dataclass
class Bench:
    pythons: dict[str, Python | None]
    quick: bool
    rows: list[Row] = field(default_factory=list)

    def samples(
        self, column: str, impl: str, workload: str, size: int, repeats: int, **options: Any
    ) -> dict[str, Any] | None:
        python = self.pythons.get(column)
        if python is None:
            return None
        loop = "uvloop" if column == "uvloop" else "asyncio"
        print(f"  {column:10} {workload} {size or ''}", file=sys.stderr, flush=True)
        if column != "astrum012":
            return run_worker(python, impl, workload, size, repeats, loop=loop, **options)
        # 0.1.2 keeps state in what it builds from (a second build of a value chain
        # reports a false cycle), so each repeat gets a fresh process.
        runs = [run_worker(python, impl, workload, size, 1, **options) for _ in range(repeats)]
        return {key: [value for run in runs for value in run[key]] for key in runs[0]}

    def collect(
        self, impls: dict[str, str], workload: str, size: int, **options: Any
    ) -> dict[str, dict[str, list[float]]]:
        """Samples per column, gathered in rounds that alternate the implementations."""
        per_round = -(-REPEATS.get(size, 5) // ROUNDS)
        found: dict[str, dict[str, list[float]]] = {}
        for _ in range(ROUNDS):
            for column, impl in impls.items():
                samples = self.samples(column, impl, workload, size, per_round, **options)
                if samples is not None:
                    merged = found.setdefault(column, {})
                    for key, values in samples.items():
                        merged.setdefault(key, []).extend(values)
        return found

    # -- per-task cost ---------------------------------------------------------------

    def compare(
        self,
        label: str,
        workload: str,
        size: int,
        impls: dict[str, str],
        *,
        run_target: float | None = None,
        total_target: float | None = None,
        caps: dict[str, int] | None = None,
    ) -> None:
        """Rows of µs per task: the run alone (when it has a target) and build + run.

        ``impls`` maps each column to the adapter module it runs; ``caps`` gives
        peers the largest size they are run at.
        """
        caps = caps or {}
        running = {column: impl for column, impl in impls.items() if size <= caps.get(column, size)}
        found = self.collect(running, workload, size)
        per_task = {column: _per_task(samples, size) for column, samples in found.items()}
        base = per_task["baseline"]["total"]
        ours = per_task["astrum"]
        tasks = f"{size:,}"
        rows = []
        if run_target is not None:
            row = Row(label, tasks, "run only, µs/task", f"astrum ≤ {run_target:g}x")
            for column in ("astrum", "uvloop"):
                if column in per_task:
                    row.cells[column] = _ratio_cell(per_task[column]["run"], base)
            row.met.append(ours["run"] <= run_target * base)
            rows.append(row)
        total = Row(label, tasks, "build + run, µs/task", "< peers")
        if total_target is not None:
            total.target = f"astrum ≤ {total_target:g}x, < peers"
            total.met.append(ours["total"] <= total_target * base)
        for column, figures in per_task.items():
            if column != "baseline":
                total.cells[column] = _ratio_cell(figures["total"], base)
            if column in _PEERS:
                total.met.append(ours["total"] < figures["total"])
        for column, cap in caps.items():
            if column in impls and size > cap:
                total.cells[column] = f"not run (> {cap:,} tasks)"
        rows.append(total)
        for row in rows:
            row.cells["baseline"] = f"{base:.1f}"
        self.rows += rows

    # -- makespans -----------------------------------------------------------------

    def makespan(self, workload: str, columns: dict[str, str], target: str, limit: float) -> None:
        row = Row(workload.replace("_", " "), "", "makespan, s", target)
        found = self.collect(columns, workload, 0)
        spans = {column: median(samples["run"]) for column, samples in found.items()}
        for column, span in spans.items():
            row.cells[column] = f"{span:.3f}"
        ours = spans["astrum"]
        row.met.append(ours <= limit)
        # Two schedulers that both reach the critical path tie: within 1% is not slower.
        row.met += [ours <= 1.01 * span for column, span in spans.items() if column in _PEERS]
        self.rows.append(row)

    # -- memory ----------------------------------------------------------------------

    def memory(self, shape: str, size: int) -> None:
        row = Row(shape, f"{size:,}", "peak RSS growth, KiB/task", "astrum ≤ baseline + 2")
        growth: dict[str, float] = {}
        for column, impl in (
            ("baseline", "baseline"),
            ("astrum", "astrum"),
            ("dagather", "dagather"),
        ):
            samples = self.samples(column, impl, shape, size, 1, memory=True)
            if samples is not None:
                growth[column] = samples["rss_growth"] / size / 1024
        base = growth["baseline"]
        for column, figure in growth.items():
            row.cells[column] = (
                f"{figure:.2f}" if column == "baseline" else f"{figure:.2f} (+{figure - base:.2f})"
            )
        row.met.append(growth["astrum"] <= base + 2)
        self.rows.append(row)


_PEERS = ("dagather", "dask", "astrum012")


def _per_task(samples: dict[str, Any], size: int) -> dict[str, float]:
    """Median CPU µs per task for the run alone and for build + run."""
    totals = [b + r for b, r in zip(samples["build_cpu"], samples["run_cpu"], strict=True)]
    return {
        "run": median(samples["run_cpu"]) / size * 1e6,
        "total": median(totals) / size * 1e6,
    }


def _ratio_cell(value: float, base: float) -> str:
    return f"{value:.1f} ({value / base:.2f}x)"


def _version(python: Python | None, distribution: str) -> str:
    if python is None:
        return "not installed"
    code = f"import importlib.metadata as m; print(m.version({distribution!r}))"
    done = subprocess.run(
        [python.executable, "-c", code], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or "unknown"


def render(bench: Bench, seconds: float, load: tuple[float, float]) -> str:
    pythons = bench.pythons
    header = ["workload", "tasks", "measure", *COLUMNS.values(), "target", "met"]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * 3 + "---:|" * len(COLUMNS) + "---|---|",
        *(row.markdown() for row in bench.rows),
    ]
    versions = ", ".join(
        f"{name} {_version(pythons.get(column), name)}"
        for column, name in (
            ("dagather", "dagather"),
            ("dask", "dask"),
            ("uvloop", "uvloop"),
            ("astrum012", "astrum"),
        )
    )
    return "\n".join(
        [
            "# Benchmark results",
            "",
            f"Measured {datetime.date.today().isoformat()} by `make bench` (bench/run_all.py"
            f"{' --quick' if bench.quick else ''}) in {seconds / 60:.1f} min on "
            f"{os.cpu_count()} cores, "
            f"Python {platform.python_version()}, load average {load[0]:.1f} at the start and "
            f"{load[1]:.1f} at the end. Peers: {versions}.",
            "",
            *lines,
            "",
            "How to read it:",
            "",
            "- Every implementation runs every workload in its own subprocesses, in "
            f"{ROUNDS} rounds that alternate the implementations; figures are medians of "
            f"{', '.join(f'{r} ({n:,} tasks)' for n, r in REPEATS.items())} or 5 repeats.",
            "- µs/task is process CPU time divided by the task count (the machine is shared, so "
            "CPU time is steadier than wall-clock). The ratio in brackets divides by the "
            "baseline: a hand-written `graphlib.TopologicalSorter` + `asyncio.create_task` "
            "loop (bench/impl_baseline.py) in which each task is a small coroutine that awaits "
            "the body, marks it done and starts what became ready (cheaper than a done "
            "callback per task). A sorter is single-use, so the baseline's figure includes "
            "building it, and both astrum rows divide by it.",
            "- astrum: `DynamicScheduler(tasks, task_orders)` is the build, `await "
            "scheduler.execute()` the run; the report's statistics are built when first read, "
            'so reading them is not in the run. "chain via registry" registers with '
            "`@registry.task(depends_on=...)` and builds with `build_scheduler()`.",
            "- astrum + uvloop: the same, on a uvloop event loop "
            "(`uvloop.run(main())`, or `asyncio.Runner(loop_factory=uvloop.new_event_loop)`).",
            f"- astrum 0.1.2 (PyPI) is capped at {ASTRUM012_MAX_TASKS:,} tasks through "
            f"`DynamicScheduler` and at {REGISTRY_PEER_TASKS:,} through its registry: its cost "
            "grows faster than the task count. dagather takes dependencies from parameter "
            "names; it awaits every task, so it cannot run plain functions. dask runs only the "
            "plain-function workload, with `dask.delayed` and one thread per task.",
            "- barrier: a1 (0.3 s) -> a2 (0.3 s) beside b1 -> ... -> b6 (0.1 s each); its "
            f"critical path is {BARRIER_CRITICAL_PATH} s. sync fanout: four plain functions "
            "each in `time.sleep(0.2)`. Makespans within 1% of a peer's count as not slower: "
            "two schedulers that both reach the critical path tie.",
            "- peak RSS growth: one build and run in a fresh process, the peak RSS minus the RSS "
            "once the inputs exist.",
            "",
        ]
    )


def plan(bench: Bench, quick: bool) -> list[tuple[str, Callable[[], None]]]:
    """Every measurement of the run, labelled, in order."""

    def compare(
        label: str, workload: str, size: int, impls: dict[str, str], **options: Any
    ) -> tuple[str, Callable[[], None]]:
        return label, partial(bench.compare, label, workload, size, impls, **options)

    ours = {"baseline": "baseline", "astrum": "astrum", "uvloop": "astrum"}
    overhead = {**ours, "dagather": "dagather", "astrum012": "astrum012"}
    registry = {"baseline": "baseline", "astrum": "registry", "astrum012": "registry"}
    values = {**registry, "uvloop": "registry", "dagather": "dagather"}
    sizes = [1_000, 10_000] if quick else [1_000, 10_000, 100_000]
    targets: dict[str, Any] = {"run_target": 1.3, "total_target": 2}
    steps = [
        compare(shape, shape, size, overhead, caps={"astrum012": ASTRUM012_MAX_TASKS}, **targets)
        for shape in ("wide", "chain", "layered")
        for size in sizes
    ]
    steps += [
        compare(
            "chain via registry",
            "chain",
            size,
            registry,
            caps={"astrum012": REGISTRY_PEER_TASKS},
        )
        for size in (REGISTRY_PEER_TASKS, 10_000)
    ]
    targets = {"run_target": 2, "total_target": 2}
    steps += [
        compare(
            "value chain, Ref annotations",
            "value_chain",
            size,
            values,
            caps={"astrum012": VALUE_PEER_TASKS},
            **targets,
        )
        for size in (VALUE_PEER_TASKS, 10_000)
    ]
    steps.append(
        compare("value chain, DynamicScheduler(bindings=)", "value_chain", 10_000, ours, **targets)
    )
    steps += [
        (
            "barrier",
            partial(
                bench.makespan,
                "barrier",
                {**ours, "dagather": "dagather", "astrum012": "astrum012"},
                f"≤ 1.02 x {BARRIER_CRITICAL_PATH} s, not slower than peers",
                1.02 * BARRIER_CRITICAL_PATH,
            ),
        ),
        (
            "sync fanout",
            partial(
                bench.makespan,
                "sync_fanout",
                {**ours, "dask": "dask", "astrum012": "astrum012"},
                "≤ 0.25 s, not slower than peers",
                0.25,
            ),
        ),
    ]
    memory_size = 10_000 if quick else 100_000
    steps += [("memory", partial(bench.memory, shape, memory_size)) for shape in ("wide", "chain")]
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="skip the 100,000-task sizes")
    parser.add_argument("--only", help="run only the measurements whose label contains this")
    args = parser.parse_args()
    began = time.perf_counter()
    load_before = os.getloadavg()[0]
    pythons: dict[str, Python | None] = {"baseline": our_python(), "astrum": our_python()}
    for column in ("uvloop", "dagather", "dask", "astrum012"):
        pythons[column] = peer_python(column)
    bench = Bench(pythons, args.quick)
    for label, step in plan(bench, args.quick):
        if args.only is None or args.only in label:
            step()
    text = render(bench, time.perf_counter() - began, (load_before, os.getloadavg()[0]))
    if args.only is None:
        (BENCH / "RESULTS.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

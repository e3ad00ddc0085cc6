"""``make bench``: every workload, every implementation, one table of medians and ratios.

Sets up the peers' virtual environments under ``bench/.envs`` (once), runs each
implementation on each workload in its own subprocess, prints one markdown
table and writes it, with the date, core count and Python version, to
``bench/RESULTS.md``. ``--quick`` runs only the 1,000 and 10,000-task sizes.

Per-task figures are medians of process CPU time divided by the task count:
the machine is shared, and CPU time is what the scheduler itself costs.
Makespans are medians of wall-clock time. Ratios are against the hand-written
baseline (bench/impl_baseline.py); astrum and dagather run in one process with
it, repeat by repeat, and their ratios are medians of those paired ratios.
"""

from __future__ import annotations

import argparse
import datetime
import json
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
        if column in PAIRED and not options:
            # With the baseline, alternating in one process: the ratio pairs each repeat.
            found = run_worker(python, f"baseline,{impl}", workload, size, repeats, loop=loop)
            return {**found[impl], "paired_base": found["baseline"]}
        if column != "astrum012":
            return run_worker(python, impl, workload, size, repeats, loop=loop, **options)
        # 0.1.2 keeps state in what it builds from (a second build of a value chain
        # reports a false cycle), so each repeat gets a fresh process.
        runs = [run_worker(python, impl, workload, size, 1, **options) for _ in range(repeats)]
        return {key: [value for run in runs for value in run[key]] for key in runs[0]}

    def collect(
        self, impls: dict[str, str], workload: str, size: int, **options: Any
    ) -> dict[str, dict[str, Any]]:
        """Samples per column, gathered in rounds that alternate the implementations.

        A paired column also carries ``paired_base``: the baseline's samples
        from its own process, repeat by repeat. The baseline column is then the
        baseline of the astrum column's process.
        """
        per_round = -(-REPEATS.get(size, 5) // ROUNDS)
        found: dict[str, dict[str, Any]] = {}
        pairs_baseline = "astrum" in impls and not options
        for _ in range(ROUNDS):
            for column, impl in impls.items():
                if column == "baseline" and pairs_baseline:
                    continue  # measured beside astrum
                samples = self.samples(column, impl, workload, size, per_round, **options)
                if samples is None:
                    continue
                if column == "astrum" and "paired_base" in samples:
                    _merge(found.setdefault("baseline", {}), samples["paired_base"])
                _merge(found.setdefault(column, {}), samples)
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
        per_task = {
            column: _per_task(samples, size, found["baseline"]) for column, samples in found.items()
        }
        base = per_task["baseline"]["total"]
        ours = per_task["astrum"]
        tasks = f"{size:,}"
        rows = []
        if run_target is not None:
            row = Row(label, tasks, "run only, µs/task", f"astrum ≤ {run_target:g}x")
            for column in ("astrum", "uvloop"):
                if column in per_task:
                    row.cells[column] = _ratio_cell(
                        per_task[column]["run"], per_task[column]["run_x"]
                    )
            row.met.append(ours["run_x"] <= run_target)
            rows.append(row)
        total = Row(label, tasks, "build + run, µs/task", "< peers")
        if total_target is not None:
            total.target = f"astrum ≤ {total_target:g}x, < peers"
            total.met.append(ours["total_x"] <= total_target)
        for column, figures in per_task.items():
            if column != "baseline":
                total.cells[column] = _ratio_cell(figures["total"], figures["total_x"])
            if column in _PEERS:
                total.met.append(ours["total_x"] < figures["total_x"])
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
            ("astrum", "registry"),
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

    # -- the cost around the work (bench_often.py) -----------------------------------------

    def often(self) -> None:
        """Registration, a small workflow run often, many concurrent runs, import time."""
        print("  often: registration, workflow, concurrent, startup", file=sys.stderr, flush=True)
        found = _script_json("bench_often.py")
        registration = found["registration"]
        for kind in ("plain", "annotated"):
            row = Row(f"registration, {kind}", "10,000", "µs/task", "astrum ≤ 3 µs")
            row.cells["astrum"] = f"{registration[kind]:.2f}"
            row.met.append(registration[kind] <= 3)
            self.rows.append(row)
        workflow = found["workflow"]
        for way, target in (("registry.run()", 2.0), ("scheduler.execute()", 1.5)):
            row = Row(f"4-task workflow, {way}", "4", "µs/run", f"astrum ≤ {target:g}x")
            row.cells["baseline"] = f"{workflow['us']['by hand']:.1f}"
            row.cells["astrum"] = _ratio_cell(workflow["us"][way], workflow["ratio"][way])
            row.met.append(workflow["ratio"][way] <= target)
            self.rows.append(row)
        concurrent = found["concurrent"]
        by_hand = concurrent["asyncio.to_thread by hand"]
        for way, label in (
            ("astrum, shared pool", "shared pool (default)"),
            ("astrum, shared pool, max_workers=40", "shared pool, max_workers=40"),
            ("astrum, thread_pool='per_run'", "thread_pool='per_run'"),
        ):
            figures = concurrent[way]
            for measure, unit in (("wall", "wall, s"), ("threads", "peak threads")):
                goal = "≤ 40 threads" if measure == "threads" else "≤ 1.1x"
                row = Row(f"1,000 concurrent runs, {label}", "3", unit, goal)
                base, ours = by_hand[measure], figures[measure]
                if measure == "wall":
                    row.cells["baseline"] = f"{base:.3f}"
                    row.cells["astrum"] = f"{ours:.3f} ({ours / base:.2f}x)"
                    row.met.append(ours <= 1.1 * base)
                else:
                    row.cells["baseline"] = f"{base:.0f}"
                    row.cells["astrum"] = f"{ours:.0f}"
                    row.met.append(ours <= 40)
                if way != "astrum, shared pool":  # shown for contrast, with no target
                    row.target, row.met = "", []
                self.rows.append(row)
        startup = found["startup"]
        asyncio_, astrum = startup["asyncio"], startup["astrum"]
        optional = ", ".join(astrum["optional"]) or "none"
        row = Row("import", "", "ms (process), modules", "no optional module imported")
        row.cells["baseline"] = f"{asyncio_['wall_ms']:.0f}, {asyncio_['modules']:.0f}"
        row.cells["astrum"] = (
            f"{astrum['wall_ms']:.0f}, {astrum['modules']:.0f} (optional: {optional})"
        )
        row.met.append(not astrum["optional"])
        self.rows.append(row)
        row = Row("import, then a one-task run", "1", "ms (in process)", "")
        row.cells["baseline"] = f"{asyncio_['first_run_ms']:.0f} (asyncio.run)"
        row.cells["astrum"] = f"{astrum['first_run_ms']:.0f} (registry.run())"
        self.rows.append(row)

    # -- dynamic workflows, tracing and the HTML page (bench_map/tracing/html.py) ------------

    def maps(self) -> None:
        """A mapped instance against a plain task: run cost, memory, streaming start."""
        size = 10_000 if self.quick else 100_000
        print(f"  maps: {size:,} instances", file=sys.stderr, flush=True)
        found = _script_json("bench_map.py", "--size", str(size))
        row = Row("map of no-op instances, run only", f"{size:,}", "µs/instance", "≤ 1.5x a task")
        row.cells["baseline"] = f"{found['plain_us']:.2f} (a plain task)"
        ratio = found["map_us"] / found["plain_us"]
        row.cells["astrum"] = _ratio_cell(found["map_us"], ratio)
        row.met.append(ratio <= 1.5)
        self.rows.append(row)
        row = Row("map, peak RSS growth", f"{size:,}", "KiB/instance", "≤ +2 KiB")
        extra = found["map_kib"] - found["plain_kib"]
        row.cells["baseline"] = f"{found['plain_kib']:.2f} (a plain task)"
        row.cells["astrum"] = f"{found['map_kib']:.2f} (+{extra:.2f})"
        row.met.append(extra <= 2)
        self.rows.append(row)
        row = Row("streaming: first yield to first instance", "", "ms (wall)", "≤ 1 ms")
        row.cells["astrum"] = f"{found['delay_ms']:.3f}"
        row.met.append(found["delay_ms"] <= 1)
        self.rows.append(row)

    def tracing(self) -> None:
        """A run traced by an OpenTelemetry SDK provider that drops its spans, against none."""
        print("  tracing: OpenTelemetry overhead", file=sys.stderr, flush=True)
        for shape, figures in _script_json("bench_tracing.py").items():
            base = figures["no provider"]
            for name in ("NoOpTracerProvider", "SDK TracerProvider, spans dropped"):
                row = Row(f"tracing: {name}", "2,000", f"{shape}, run, CPU µs/task", "")
                row.cells["baseline"] = f"{base:.2f} (astrum, no provider)"
                row.cells["astrum"] = _ratio_cell(figures[name], figures[name] / base)
                self.rows.append(row)

    def html(self) -> None:
        """report.to_html(): Python time and page size by run size."""
        sizes = ["10", "2000"] if self.quick else ["10", "2000", "100000"]
        print("  html: the run page", file=sys.stderr, flush=True)
        found = _script_json("bench_html.py", "--sizes", *sizes)
        for size, figures in found.items():
            target = "< 2 s, < 5 MB" if size == "2000" else ""
            row = Row("report.to_html()", f"{int(size):,}", "CPU ms, page MB", target)
            row.cells["astrum"] = f"{figures['ms']:,.1f} ms, {figures['mb']:.2f} MB"
            if target:
                row.met.append(figures["ms"] < 2000 and figures["mb"] < 5)
            self.rows.append(row)

    def floor(self) -> None:
        """What the old graphlib baseline cost against the floor (bench/bench_floor.py)."""
        print("  floor: the old baseline against the new", file=sys.stderr, flush=True)
        for shape, figures in _script_json("bench_floor.py").items():
            floor = figures["counts made once, tasks dropped (the floor)"]
            for name, figure in figures.items():
                row = Row(f"floor: {name}", "10,000", f"{shape}, build + run, µs/task", "")
                row.cells["baseline"] = f"{figure:.2f} ({figure / floor:.2f}x)"
                self.rows.append(row)


def _script_json(script: str, *arguments: str) -> dict[str, Any]:
    """What ``bench/<script> --json`` prints, run with this interpreter."""
    done = subprocess.run(
        [sys.executable, str(BENCH / script), "--json", *arguments],
        capture_output=True,
        text=True,
        check=True,
    )
    found: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return found


_PEERS = ("dagather", "dask", "astrum012")
PAIRED = ("astrum", "dagather")
"""Columns measured in one process with the baseline, repeat by repeat."""


def _merge(into: dict[str, Any], samples: dict[str, Any]) -> None:
    for key, values in samples.items():
        if key == "paired_base":
            _merge(into.setdefault(key, {}), values)
        else:
            into.setdefault(key, []).extend(values)


def _totals(samples: dict[str, Any]) -> list[float]:
    return [b + r for b, r in zip(samples["build_cpu"], samples["run_cpu"], strict=True)]


def _per_task(
    samples: dict[str, Any], size: int, base: dict[str, Any] | None = None
) -> dict[str, float]:
    """Median CPU µs per task for the run alone and for build + run, and their ratios
    to the baseline: paired repeat by repeat when measured beside it, else of medians."""
    figures = {
        "run": median(samples["run_cpu"]) / size * 1e6,
        "total": median(_totals(samples)) / size * 1e6,
    }
    paired = samples.get("paired_base")
    if paired is not None:
        figures["run_x"] = median(
            [a / b for a, b in zip(samples["run_cpu"], _totals(paired), strict=True)]
        )
        figures["total_x"] = median(
            [a / b for a, b in zip(_totals(samples), _totals(paired), strict=True)]
        )
    elif base is not None:
        base_total = median(_totals(base)) / size * 1e6
        figures["run_x"] = figures["run"] / base_total
        figures["total_x"] = figures["total"] / base_total
    else:
        figures["run_x"] = figures["total_x"] = 1.0
    return figures


def _ratio_cell(value: float, ratio: float) -> str:
    return f"{value:.1f} ({ratio:.2f}x)"


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
            "- Every implementation runs every workload in subprocesses, in "
            f"{ROUNDS} rounds that alternate the implementations; figures are medians of "
            f"{', '.join(f'{r} ({n:,} tasks)' for n, r in REPEATS.items())} or 5 repeats. "
            "astrum and dagather run in one process with the baseline, repeat by repeat in "
            "turn, and their ratios are medians of these paired ratios (a spell of load on "
            "the shared machine falls on both sides); the other columns divide medians.",
            "- µs/task is process CPU time divided by the task count (the machine is shared, so "
            "CPU time is steadier than wall-clock). The ratio in brackets divides by the "
            "baseline's build + run: a careful hand-written asyncio program "
            "(bench/impl_baseline.py) that makes successor lists and dependency counts once "
            "(its build), starts one asyncio task per node when its last dependency is done "
            "and drops it when it is done. Run-only ratios divide the run alone by that too.",
            "- astrum (the headline rows): the decorator path. Build is registering every task "
            "with `@registry.task(...)` in a new registry plus `build_scheduler()`; run is "
            "`await scheduler.execute()`; the report's statistics are built when first read, "
            "so reading them is not in the run. Every task has a function of its own. The "
            '"DynamicScheduler(tasks, orders)" rows build from hand-made TaskOrder objects.',
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
            "- The last rows come from bench/bench_often.py, each measured in one process with "
            "its ways interleaved: registering 10,000 tasks of their own functions; a 4-task "
            "workflow (two async fetches, a join, a tail) against the same four steps written "
            "with `asyncio.create_task` (the baseline column, µs per run); 1,000 concurrent "
            "runs of two plain functions sleeping 10 ms and an async join, against the same "
            "written with `asyncio.to_thread` (wall seconds, and the most threads alive, the "
            'main thread included); `python -c "import astrum"` against `import asyncio` '
            "(process wall time, modules in sys.modules, and which of rich, dask, distributed, "
            "sqlite3, pydantic and multiprocessing were imported), and the time from the "
            "import to the first result of a one-task workflow, modules loaded on first use "
            "included. Workers build and run a 10-task version of each workload, untimed, "
            "before their timed repeats, so a process's one-time costs stay out of the per-task "
            "figures and appear here instead.",
            "- map rows: bench/bench_map.py, a map of no-op async instances against as many plain "
            "no-op tasks (wide), alternating in one process, CPU time; memory in fresh "
            "processes; the streaming delay is wall time from an async generator's first yield "
            "to its first instance's start, median of 21 runs.",
            "- tracing rows: bench/bench_tracing.py, the same prebuilt run with no tracer "
            "provider, OpenTelemetry's NoOpTracerProvider, and the SDK's TracerProvider with no "
            "span processor (spans made, then dropped); interleaved, medians of CPU time.",
            "- report.to_html(): bench/bench_html.py, binary trees with one task in five "
            "failing; CPU time of to_html() (median of 3) and the page's size.",
            "",
        ]
    )


def plan(bench: Bench, quick: bool) -> list[tuple[str, Callable[[], None]]]:
    """Every measurement of the run, labelled, in order."""

    def compare(
        label: str, workload: str, size: int, impls: dict[str, str], **options: Any
    ) -> tuple[str, Callable[[], None]]:
        return label, partial(bench.compare, label, workload, size, impls, **options)

    # The headline: the decorator path, registration inside "build".
    registry = {"baseline": "baseline", "astrum": "registry", "uvloop": "registry"}
    headline = {**registry, "dagather": "dagather", "astrum012": "astrum012"}
    scheduler = {"baseline": "baseline", "astrum": "astrum", "uvloop": "astrum"}
    big = [] if quick else [100_000]
    targets: dict[str, Any] = {"run_target": 1.0, "total_target": 1.5}
    sizes = {"wide": [1_000, 10_000, *big], "chain": [1_000, 10_000, *big]}
    sizes["layered"] = [1_000, 5_000, *big]
    steps = [
        compare(shape, shape, size, headline, caps={"astrum012": ASTRUM012_MAX_TASKS}, **targets)
        for shape in ("wide", "chain", "layered")
        for size in sizes[shape]
    ]
    steps += [
        compare(f"{shape}, DynamicScheduler(tasks, orders)", shape, 10_000, scheduler, **targets)
        for shape in ("wide", "chain", "layered")
    ]
    steps.append(
        compare(
            "chain, both registries",
            "chain",
            REGISTRY_PEER_TASKS,
            {"baseline": "baseline", "astrum": "registry", "astrum012": "registry"},
            caps={"astrum012": REGISTRY_PEER_TASKS},
        )
    )
    values = {**registry, "dagather": "dagather", "astrum012": "registry"}
    steps += [
        compare(
            "value chain, Ref annotations",
            "value_chain",
            size,
            values,
            caps={"astrum012": VALUE_PEER_TASKS},
            run_target=1.0,
            # The target is set for 1,000 and 10,000 tasks (issue 19); the 100-task row is
            # there to compare with 0.1.2, which cannot run more, and carries no ratio target.
            total_target=None if size == VALUE_PEER_TASKS else 2.0,
        )
        for size in (VALUE_PEER_TASKS, 1_000, 10_000)
    ]
    steps.append(
        compare(
            "value chain, annotations as strings",
            "value_chain_strings",
            1_000,
            {"baseline": "baseline", "astrum": "registry", "dagather": "dagather"},
        )
    )
    steps.append(
        compare(
            "value chain, DynamicScheduler(bindings=)",
            "value_chain",
            10_000,
            scheduler,
            run_target=1.0,
            total_target=2.0,
        )
    )
    steps += [
        (
            "barrier",
            partial(
                bench.makespan,
                "barrier",
                {**registry, "dagather": "dagather", "astrum012": "astrum012"},
                f"≤ 1.02 x {BARRIER_CRITICAL_PATH} s, not slower than peers",
                1.02 * BARRIER_CRITICAL_PATH,
            ),
        ),
        (
            "sync fanout",
            partial(
                bench.makespan,
                "sync_fanout",
                {**registry, "dask": "dask", "astrum012": "astrum012"},
                "≤ 0.25 s, not slower than peers",
                0.25,
            ),
        ),
    ]
    memory_size = 10_000 if quick else 100_000
    steps += [("memory", partial(bench.memory, shape, memory_size)) for shape in ("wide", "chain")]
    steps.append(("often", bench.often))
    steps.append(("maps", bench.maps))
    steps.append(("tracing", bench.tracing))
    steps.append(("html", bench.html))
    steps.append(("floor", bench.floor))
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

"""The ``astrum`` command: run a workflow file, draw its graph, run the demo, manage a cache,
draw a recorded run as a page.

Exit codes: 0 the run completed, 1 it failed or was cancelled, 2 the command
line or the workflow file is wrong (it cannot be imported, names no tasks, the
namespace is unknown, the graph is invalid, an input is missing or wrong), 130
interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import logging
import os
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from astrum._errors import InputError, SchedulerError, closest
from astrum._store._sqlite import DEFAULT_PATH
from astrum.config import AstrumConfig
from astrum.decorators import SchedulerRegistry
from astrum.models import ExecutionReport
from astrum.scheduler import DynamicScheduler

__all__ = ["main"]

_USAGE_ERROR = 2


class _UsageError(Exception):
    """Something wrong with the command line or the user's file: one message, exit code 2."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return _USAGE_ERROR
    handler = _log_handler(debug=args.debug)
    logger = logging.getLogger("astrum")
    logger.addHandler(handler)
    try:
        if args.command == "graph":
            return _graph(args)
        if args.command == "cache":
            return _cache(args)
        if args.command == "report":
            return _report(args)
        return _run(args)
    except BrokenPipeError:
        _drop_stdout()
        return 0
    except _UsageError as problem:
        hint = ""
        if args.debug:
            traceback.print_exc()
        elif problem.__cause__ is not None:
            hint = " (run with --debug to see the traceback)"
        print(f"astrum: error: {problem}{hint}", file=sys.stderr)
        return _USAGE_ERROR
    except KeyboardInterrupt:
        print("astrum: interrupted", file=sys.stderr)
        return 130
    finally:
        logger.removeHandler(handler)


def _log_handler(*, debug: bool) -> logging.Handler:
    """Where the command sends the ``astrum`` log: stderr with tracebacks under ``--debug``.

    Otherwise nowhere: the summary already lists every failure, in one line each.
    """
    if not debug:
        return logging.NullHandler()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("astrum: %(levelname)s: %(message)s"))
    return handler


def _drop_stdout() -> None:
    """The reader of our output went away (``astrum run f.py | head -1``): write no more.

    Pointing stdout at devnull keeps the interpreter's final flush from failing too.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (a test's capture)
        pass


def _write(text: str) -> None:
    """Print ``text`` to stdout; a closed pipe ends the output quietly."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        _drop_stdout()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="astrum", description="Run and inspect Astrum workflows (a DAG of Python functions)."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def common(sub: argparse.ArgumentParser, with_file: bool) -> None:
        if with_file:
            sub.add_argument("file", metavar="FILE.py", help="the Python file that registers tasks")
            sub.add_argument(
                "--namespace", metavar="NS", help="the workflow to use when the file has several"
            )
        sub.add_argument(
            "--target",
            metavar="T",
            action="append",
            help="only this task and what it needs (repeatable)",
        )
        sub.add_argument("--debug", action="store_true", help="show tracebacks of errors")

    def run_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--input",
            metavar="NAME=VALUE",
            action="append",
            default=[],
            help="a run-time input; VALUE is read as JSON when it is JSON, else as text "
            "(repeatable)",
        )
        sub.add_argument(
            "--inputs-file", metavar="FILE.json", help="run-time inputs as one JSON object"
        )
        sub.add_argument("--store", metavar="PATH", help="cache and record the run in this file")
        sub.add_argument(
            "--resume",
            metavar="RUN_ID",
            help=f"run again what run RUN_ID did not complete (store default: {DEFAULT_PATH})",
        )
        sub.add_argument(
            "--on-failure",
            choices=("fail_fast", "continue"),
            default="fail_fast",
            help="stop at the first failure, or let independent tasks finish",
        )
        sub.add_argument("--visualize", action="store_true", help="draw the graph before running")
        sub.add_argument("--progress", action="store_true", help="show live progress on stderr")
        sub.add_argument("--trace", metavar="OUT.json", help="write a Chrome/Perfetto trace")
        sub.add_argument("--html", metavar="OUT.html", help="write the run as an HTML page")
        sub.add_argument("--json", action="store_true", help="print the report as JSON")

    run = commands.add_parser("run", help="run the workflow of a file and print a summary")
    common(run, with_file=True)
    run_options(run)
    graph = commands.add_parser("graph", help="draw the workflow of a file")
    common(graph, with_file=True)
    graph.add_argument(
        "--format",
        choices=("tree", "text", "mermaid", "dot"),
        help="tree (the default, needs rich; else text), text, mermaid or dot",
    )
    demo = commands.add_parser("demo", help="run the bundled demo workflow")
    common(demo, with_file=False)
    run_options(demo)
    cache = commands.add_parser("cache", help="show what a cache store holds, or empty it")
    cache.add_argument("action", choices=("stats", "clear"))
    cache.add_argument(
        "--store", metavar="PATH", default=DEFAULT_PATH, help=f"default: {DEFAULT_PATH}"
    )
    cache.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    report = commands.add_parser(
        "report", help="write the HTML page of a run recorded in a store (AstrumConfig(store=...))"
    )
    report.add_argument("run_id", metavar="RUN_ID", help="the run's id, or a unique prefix of it")
    report.add_argument(
        "--store", metavar="PATH", default=DEFAULT_PATH, help=f"default: {DEFAULT_PATH}"
    )
    report.add_argument(
        "-o", "--output", metavar="OUT.html", help="default: astrum-run-<first 8 of RUN_ID>.html"
    )
    report.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    parser.set_defaults(debug=False)
    return parser


# -- commands -------------------------------------------------------------------------


def _run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from astrum._demo import build_demo

        registry = build_demo()
    else:
        registry = _load_workflow(Path(args.file), args.namespace)
    inputs = _inputs(args.inputs_file, args.input)
    store_path = args.store or (DEFAULT_PATH if args.resume else None)
    store = None
    if store_path is not None:
        from astrum.cache import SqliteStore

        store = SqliteStore(store_path)
    config = AstrumConfig(progress=args.progress, store=store, on_failure=args.on_failure)
    scheduler = _build(registry, args.target, config)
    if args.visualize:
        from astrum._views._render import show_plan

        show_plan(scheduler.plan, f"workflow '{registry.name}'", sys.stderr if args.json else None)
    try:
        report = asyncio.run(scheduler.execute(inputs=inputs, resume=args.resume))
    except InputError as error:
        raise _UsageError(f"{error} On the command line: --input NAME=VALUE.") from None
    except (ValueError, LookupError) as error:
        # Raised before any task starts: a run that cannot be resumed, say; the message says it.
        raise _UsageError(str(error)) from None
    finally:
        if store is not None:
            store.close()
    if args.trace:
        path = report.to_chrome_trace(args.trace)
        print(
            f"astrum: trace written to {path}; open it in https://ui.perfetto.dev", file=sys.stderr
        )
    if args.html:
        report.to_html(args.html)
        print(f"astrum: page written to {args.html}", file=sys.stderr)
    if args.json:
        _write(json.dumps(report_json(report), indent=2, default=repr) + "\n")
    else:
        _write(report.summary() + "\n")
    if report.execution_state != "completed":
        if store is not None:
            print(
                f"astrum: run {report.run_id} is recorded in {store_path}; run the rest with "
                f"--resume {report.run_id}",
                file=sys.stderr,
            )
        if not args.debug:
            print("astrum: run with --debug to see the tracebacks", file=sys.stderr)
    return 0 if report.execution_state == "completed" else 1


def _inputs(path: str | None, pairs: Sequence[str]) -> dict[str, Any]:
    """The run-time inputs of ``--inputs-file`` and then each ``--input NAME=VALUE``."""
    inputs: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise _UsageError(f"--inputs-file {path} cannot be read as JSON: {error}") from None
        if not isinstance(loaded, dict):
            raise _UsageError(
                f"--inputs-file {path} must hold a JSON object of input names to values, "
                f"not a {type(loaded).__name__}."
            )
        inputs.update(loaded)
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise _UsageError(
                f"--input takes NAME=VALUE, got {pair!r}; for example --input limit=10."
            )
        try:
            inputs[name] = json.loads(text)
        except ValueError:
            inputs[name] = text  # not JSON: the text itself
    return inputs


def _graph(args: argparse.Namespace) -> int:
    registry = _load_workflow(Path(args.file), args.namespace)
    scheduler = _build(registry, args.target, AstrumConfig())
    form = args.format
    if form is None:
        form = "tree" if _has_rich() else "text"
        if form == "text":
            from astrum._views._render import VIZ_EXTRA_HINT

            print(
                f"astrum: rich is not installed, so this is the plain-text view; install it "
                f"with {VIZ_EXTRA_HINT} to see the tree.",
                file=sys.stderr,
            )
    if form == "text":
        print(scheduler.get_execute_timeline().get_full_visualization())
    elif form == "mermaid":
        sys.stdout.write(scheduler.to_mermaid())
    elif form == "dot":
        from astrum._views._export import to_dot

        sys.stdout.write(to_dot(scheduler.plan, name=registry.name))
    else:
        from astrum._views._render import VIZ_EXTRA_HINT, show_plan

        if not _has_rich():
            raise _UsageError(
                f"--format tree draws with rich, which is not installed; install it with "
                f"{VIZ_EXTRA_HINT}, or use --format text, mermaid or dot."
            )
        show_plan(scheduler.plan, f"workflow '{registry.name}'")
    return 0


def _has_rich() -> bool:
    try:
        import rich  # noqa: F401
    except ImportError:
        return False
    return True


def _cache(args: argparse.Namespace) -> int:
    from astrum.cache import SqliteStore, clear, stats

    try:
        if args.action == "clear":
            print(f"Removed {clear(args.store)} entries and every run record from {args.store}.")
            return 0
        summary = stats(args.store)
        with SqliteStore(args.store) as store:
            runs = store.runs()
    except (OSError, ValueError) as error:
        raise _UsageError(str(error)) from None  # the message says it all
    print(f"Cache store {summary.path} ({summary.file_bytes / 1024:.1f} KiB on disk)")
    print(f"  entries: {summary.entries} ({summary.payload_bytes / 1024:.1f} KiB of values)")
    print(f"  recorded runs: {summary.runs} ({summary.recorded_tasks} task results)")
    for recorded in runs[:5]:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(recorded.started))
        resumed = f", resumed {recorded.resumed_from}" if recorded.resumed_from else ""
        print(f"    {recorded.run_id}  {started}  {recorded.completed_tasks} completed{resumed}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from astrum._views._html import render_page
    from astrum._views._page_data import load_page
    from astrum.cache import SqliteStore

    if not Path(args.store).is_file():
        raise _UsageError(
            f"there is no store at {args.store}; pass the path the run used "
            "(AstrumConfig(store=SqliteStore(path))) with --store."
        )
    try:
        with SqliteStore(args.store) as store:
            known = [recorded.run_id for recorded in store.runs()]
            matches = [run_id for run_id in known if run_id.startswith(args.run_id)]
            if args.run_id in known:
                matches = [args.run_id]
            if len(matches) != 1:
                several = f"{len(matches)} runs start with it" if matches else "no run has it"
                latest = ", ".join(known[:3]) or "none"
                raise _UsageError(
                    f"{args.store} has no single run '{args.run_id}' ({several}); "
                    f"the latest recorded runs are: {latest}."
                )
            run_id = matches[0]
            payload = store.load_report(run_id)
        if payload is None:
            raise _UsageError(
                f"run {run_id} in {args.store} has no recorded report: it was recorded by an "
                "older astrum, or it did not finish."
            )
        page = render_page(load_page(payload))
    except (OSError, ValueError) as error:
        raise _UsageError(str(error)) from None  # the message says it all
    output = Path(args.output or f"astrum-run-{run_id[:8]}.html")
    output.write_text(page, encoding="utf-8")
    print(f"astrum: page of run {run_id} written to {output}", file=sys.stderr)
    return 0


def _build(
    registry: SchedulerRegistry, targets: Sequence[str] | None, config: AstrumConfig
) -> DynamicScheduler:
    try:
        return registry.build_scheduler(targets, config=config)
    except (SchedulerError, TypeError, ValueError) as error:
        raise _UsageError(f"the workflow '{registry.name}' is not valid: {error}") from error


# -- loading a workflow file ------------------------------------------------------------


def _load_workflow(path: Path, namespace: str | None) -> SchedulerRegistry:
    """Import ``path`` and find the registry to run: the one named, or the only one."""
    if not path.is_file():
        raise _UsageError(
            f"{path} is not a file; give the path of a Python file that registers tasks."
        )
    module = _import_file(path)
    from astrum import decorators

    candidates: dict[int, SchedulerRegistry] = {}
    for value in vars(module).values():
        if isinstance(value, SchedulerRegistry):
            candidates.setdefault(id(value), value)
    for registry in decorators._HUB.registries():
        candidates.setdefault(id(registry), registry)
    found = [registry for registry in candidates.values() if registry._tasks]
    names = ", ".join(sorted(f"'{registry.name}'" for registry in found))
    if namespace is not None:
        named = [registry for registry in found if registry.name == namespace]
        if not named:
            known = f"it defines {names}" if found else "it registers no tasks at all"
            hint = closest(namespace, [registry.name for registry in found])
            known += f"; did you mean '{hint}'?" if hint else "."
            raise _UsageError(f"{path} has no workflow named '{namespace}' with tasks; {known}")
        return named[0]
    if not found:
        raise _UsageError(
            f"{path} registers no tasks; decorate functions with @task or @registry.task()."
        )
    if len(found) > 1:
        raise _UsageError(
            f"{path} defines several workflows ({names}); choose one with --namespace."
        )
    return found[0]


def _import_file(path: Path) -> Any:
    stem = path.stem
    # The file's own name when free, so process pools and pickling can import it again.
    name = stem if stem.isidentifier() and stem not in sys.modules else "__astrum_workflow__"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise _UsageError(f"{path} cannot be imported as a Python module; is it a .py file?")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(path.resolve().parent))  # so the file can import its neighbours
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as error:
        sys.modules.pop(name, None)
        what = f"{type(error).__name__}: {error}"
        raise _UsageError(f"importing {path} failed with {what}") from error
    return module


# -- JSON -----------------------------------------------------------------------------------


def report_json(report: ExecutionReport) -> dict[str, Any]:
    """The report as JSON-ready data; results that JSON cannot hold become their repr."""
    from astrum._views._summary import critical_path

    # Named one by one: the report may gain private fields that are no business of JSON.
    names = (
        "run_id",
        "execution_state",
        "total_start_time",
        "total_end_time",
        "total_duration",
        "planning_duration",
        "execution_duration",
        "total_tasks",
        "total_stages",
        "max_parallelism",
        "successful_tasks",
        "failed_tasks",
        "error_summary",
    )
    fields = {name: getattr(report, name) for name in names}
    tasks = [
        {
            "task": stats.task_name,
            "status": stats.status,
            "start_time": stats.start_time,
            "end_time": stats.end_time,
            "duration": stats.duration,
            "queued_duration": stats.queued_duration,
            "attempts": stats.attempt_count,
            "error": stats.error_message,
        }
        for stats in report.task_statistics
    ]
    return {
        **fields,
        "critical_path": [stats.task_name for stats in critical_path(report)],
        "dependencies": report.original_tasks,
        "tasks": tasks,
        "results": {task: _jsonable(value) for task, value in report.task_return_set.items()},
    }


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value

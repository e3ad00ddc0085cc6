"""The ``astrum`` command: exit codes in a subprocess, output details in-process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from astrum._cli import main
from sample_workflows import hide_rich

GOOD = """
    import asyncio
    from astrum import SchedulerRegistry

    flow = SchedulerRegistry("shop")

    @flow.task()
    async def fetch() -> int:
        await asyncio.sleep(0.01)
        return 3

    @flow.task(depends_on=["fetch"])
    def total() -> str:
        return "ok"

    @flow.task()
    async def unrelated() -> None:
        return None
"""

FAILING = """
    from astrum import task

    @task
    async def explode() -> None:
        raise RuntimeError("kaboom")

    @task(depends_on=["explode"])
    async def after() -> None:
        return None
"""


def write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def astrum(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m astrum ARGS`` and capture its output."""
    env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "astrum", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
        env=env,
    )


# -- exit codes, through the real entry point -------------------------------------------


def test_run_of_a_good_file_prints_the_summary_and_exits_0(tmp_path: Path) -> None:
    """A completed run exits 0 and prints the summary on stdout."""
    result = astrum("run", write(tmp_path, "good.py", GOOD))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Run completed in ")
    assert "3 tasks (3 completed)" in result.stdout
    assert result.stderr == ""


def test_run_of_a_failing_workflow_exits_1_with_its_errors(tmp_path: Path) -> None:
    """A failed run exits 1 and its summary ends with the error."""
    result = astrum("run", write(tmp_path, "failing.py", FAILING))
    assert result.returncode == 1
    assert result.stdout.startswith("Run failed in ")
    assert result.stdout.rstrip().endswith("Task 'explode' failed: RuntimeError: kaboom")


@pytest.mark.parametrize(
    ("source", "extra", "message"),
    [
        (
            "import nosuch_module_here\n",
            (),
            "importing {file} failed with ModuleNotFoundError: No module named "
            "'nosuch_module_here' (run with --debug to see the traceback)",
        ),
        (
            GOOD,
            ("--namespace", "other"),
            "{file} has no workflow named 'other' with tasks; it defines 'shop'.",
        ),
        (
            "x = 1\n",
            (),
            "{file} registers no tasks; decorate functions with @task or @registry.task().",
        ),
    ],
    ids=["import-error", "unknown-namespace", "no-tasks"],
)
def test_problems_in_the_file_exit_2_with_one_clear_line(
    tmp_path: Path, source: str, extra: tuple[str, ...], message: str
) -> None:
    """Import errors, unknown namespaces and files without tasks: one message, exit 2."""
    path = write(tmp_path, "wf.py", source)
    result = astrum("run", path, *extra)
    assert result.returncode == 2
    assert result.stderr == f"astrum: error: {message.format(file=path)}\n"
    assert result.stdout == ""


def test_debug_shows_the_traceback_of_an_import_error(tmp_path: Path) -> None:
    """--debug adds the traceback that is hidden by default."""
    result = astrum("run", write(tmp_path, "bad.py", "1 / 0\n"), "--debug")
    assert result.returncode == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert "ZeroDivisionError" in result.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    """No command, or an unknown option, is a usage error."""
    assert astrum().returncode == 2
    result = astrum("graph", write(tmp_path, "good.py", GOOD), "--format", "png")
    assert result.returncode == 2
    assert "invalid choice: 'png'" in result.stderr


def test_demo_runs_the_bundled_workflow() -> None:
    """astrum demo runs eleven tasks and exits 0."""
    result = astrum("demo")
    assert result.returncode == 0, result.stderr
    assert "11 tasks (11 completed)" in result.stdout
    assert "Critical path" in result.stdout


def test_console_script_is_installed() -> None:
    """The astrum console script exists beside the interpreter and answers --help."""
    script = Path(sys.executable).with_name("astrum")
    if not script.exists():
        pytest.skip("the package is not installed with its console script")
    result = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0
    assert "run" in result.stdout
    assert "graph" in result.stdout
    assert "demo" in result.stdout


# -- output details, in-process ------------------------------------------------------------


def test_json_output_and_trace_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints the report as JSON; --trace writes the timeline; --target selects."""
    trace = tmp_path / "out.json"
    path = write(tmp_path, "jsonflow.py", GOOD)
    code = main(["run", str(path), "--target", "total", "--json", "--trace", str(trace)])
    captured = capsys.readouterr()
    assert code == 0
    data = json.loads(captured.out)
    assert data["execution_state"] == "completed"
    assert data["critical_path"] == ["fetch", "total"]
    assert [task["task"] for task in data["tasks"]] == ["fetch", "total"]
    assert data["results"] == {"fetch": 3, "total": "ok"}
    assert json.loads(trace.read_text(encoding="utf-8"))["traceEvents"]
    assert f"trace written to {trace}" in captured.err


def test_visualize_and_progress_keep_json_on_stdout_valid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With --json, the tree and the progress lines go to stderr."""
    path = write(tmp_path, "noisy.py", GOOD)
    code = main(["run", str(path), "--json", "--visualize", "--progress"])
    captured = capsys.readouterr()
    assert code == 0
    assert json.loads(captured.out)["total_tasks"] == 3
    assert "workflow 'shop' · 3 tasks · 2 roots" in captured.err
    assert "astrum: run started: 3 tasks" in captured.err


def test_several_workflows_need_a_namespace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file with two workflows asks for --namespace, then runs the one named."""
    source = GOOD + textwrap.indent(
        textwrap.dedent(
            """
            other = SchedulerRegistry("other")

            @other.task()
            async def ping() -> str:
                return "pong"
            """
        ),
        "    ",
    )
    path = write(tmp_path, "twoflows.py", source)
    assert main(["run", str(path)]) == 2
    assert "defines several workflows ('other', 'shop'); choose one with --namespace" in (
        capsys.readouterr().err
    )
    assert main(["run", str(path), "--namespace", "other"]) == 0
    assert "1 task (1 completed)" in capsys.readouterr().out


def test_an_invalid_graph_is_a_problem_in_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A dependency cycle exits 2 with the cycle in the message."""
    source = """
        from astrum import SchedulerRegistry

        loop = SchedulerRegistry("loop")

        @loop.task(depends_on=["b"])
        async def a() -> None: ...

        @loop.task(depends_on=["a"])
        async def b() -> None: ...
    """
    assert main(["graph", str(write(tmp_path, "cycle.py", source))]) == 2
    err = capsys.readouterr().err
    assert err.startswith("astrum: error: the workflow 'loop' is not valid: ")
    assert "a -> b -> a" in err or "b -> a -> b" in err


@pytest.mark.parametrize(
    ("form", "first_line"),
    [
        ("mermaid", "flowchart LR"),
        ("dot", 'digraph "shop" {'),
        ("tree", "workflow 'shop' · 3 tasks · 2 roots"),
    ],
)
def test_graph_prints_each_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], form: str, first_line: str
) -> None:
    """astrum graph draws the workflow as a tree, Mermaid or DOT."""
    path = write(tmp_path, f"graph_{form}.py", GOOD)
    assert main(["graph", str(path), "--format", form]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == first_line
    assert "fetch" in out
    assert "total" in out


def test_missing_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A path that is not a file exits 2 naming it."""
    assert main(["run", str(tmp_path / "absent.py")]) == 2
    assert capsys.readouterr().err == (
        f"astrum: error: {tmp_path / 'absent.py'} is not a file; give the path of a Python "
        "file that registers tasks.\n"
    )


def test_without_rich_visualize_warns_and_graph_tree_names_the_extra(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without rich, run --visualize still runs; graph --format tree exits 2 naming the extra."""
    hide_rich(monkeypatch)
    path = write(tmp_path, "plainview.py", GOOD)
    with pytest.warns(RuntimeWarning, match=r"astrum\[viz\]"):
        assert main(["run", str(path), "--visualize"]) == 0
    assert "Run completed" in capsys.readouterr().out
    assert main(["graph", str(path), "--format", "tree"]) == 2
    assert "pip install 'astrum[viz]'" in capsys.readouterr().err
    assert main(["graph", str(path), "--format", "dot"]) == 0


# -- inputs, store, resume, failure policy, --debug, closed pipes (issue 16) ---------------------

WITH_INPUTS = """
    from astrum import Input, Ref, SchedulerRegistry

    flow = SchedulerRegistry("search")

    @flow.task()
    async def search(query: Ref[str, Input("query")], top_k: Ref[int, Input("top_k")] = 2) -> str:
        return f"{query} x{top_k}"

    @flow.task()
    def side() -> None:
        raise RuntimeError("side effect failed")

    @flow.task(depends_on=["search"])
    def done() -> str:
        return "done"
"""


def test_inputs_from_the_command_line_and_a_file(tmp_path: Path) -> None:
    """--input NAME=VALUE (JSON or text) and --inputs-file give the run its inputs."""
    path = write(tmp_path, "inputs.py", WITH_INPUTS)
    (tmp_path / "inputs.json").write_text('{"query": "from file", "top_k": 5}', encoding="utf-8")
    result = astrum(
        "run", path, "--inputs-file", tmp_path / "inputs.json", "--input", "top_k=7", "--json"
    )
    assert json.loads(result.stdout)["results"]["search"] == "from file x7"
    result = astrum("run", path, "--input", "query=plain text", "--json")
    assert json.loads(result.stdout)["results"]["search"] == "plain text x2"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "Input 'query' is required by task 'search' but was not given"),
        (("--input", "qery=x"), "did you mean 'query'?"),
        (("--input", "query=x", "--input", 'top_k="many"'), "Input 'top_k' is str"),
        (("--input", "query"), "--input takes NAME=VALUE, got 'query'"),
    ],
)
def test_input_errors_are_one_line_with_exit_2(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    """A missing, unknown, mistyped or malformed input is one line on stderr and exit code 2."""
    result = astrum("run", write(tmp_path, "inputs.py", WITH_INPUTS), *args)
    assert result.returncode == 2
    assert result.stderr.startswith("astrum: error: ")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_store_resume_and_on_failure(tmp_path: Path) -> None:
    """--on-failure continue runs the rest; --store records the run; --resume runs what is left."""
    path = write(tmp_path, "inputs.py", WITH_INPUTS)
    store = tmp_path / "runs.db"
    first = astrum(
        "run", path, "--input", "query=q", "--store", store, "--on-failure", "continue", "--json"
    )
    assert first.returncode == 1
    report = json.loads(first.stdout)
    assert report["results"] == {"search": "q x2", "done": "done"}
    assert f"--resume {report['run_id']}" in first.stderr
    again = astrum(
        "run", path, "--input", "query=q", "--resume", report["run_id"], "--json", cwd=tmp_path
    )
    assert again.returncode == 2
    assert "has no record of it" in again.stderr  # the default store is not the one used
    resumed = astrum(
        "run", path, "--input", "query=q", "--store", store, "--resume", report["run_id"], "--json"
    )
    statuses = {t["task"]: t["status"] for t in json.loads(resumed.stdout)["tasks"]}
    assert statuses == {"search": "cached", "done": "cached", "side": "failed"}


def test_debug_shows_the_traceback_of_a_failed_task(tmp_path: Path) -> None:
    """Without --debug a failed run says how to see tracebacks; with it, stderr has them."""
    path = write(tmp_path, "inputs.py", WITH_INPUTS)
    quiet = astrum("run", path, "--input", "query=q")
    assert "Traceback" not in quiet.stderr
    assert "run with --debug to see the tracebacks" in quiet.stderr
    loud = astrum("run", path, "--input", "query=q", "--debug")
    assert "Traceback (most recent call last)" in loud.stderr
    assert 'raise RuntimeError("side effect failed")' in loud.stderr


def test_a_closed_pipe_ends_the_output_quietly(tmp_path: Path) -> None:
    """`astrum run f.py | head -1`: when the reader has gone, no BrokenPipeError is printed."""
    path = write(tmp_path, "good.py", GOOD)
    process = subprocess.Popen(
        [sys.executable, "-m", "astrum", "run", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    process.stdout.close()  # long before the child prints anything
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0
    assert "BrokenPipeError" not in stderr
    assert stderr == ""


def test_graph_without_rich_falls_back_to_plain_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the viz extra, astrum graph FILE prints the text view and names the extra."""
    hide_rich(monkeypatch)
    path = write(tmp_path, "plaingraph.py", GOOD)
    assert main(["graph", str(path)]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0] == "Task dependency graph:"
    assert "Execution plan: 3 tasks" in captured.out
    assert captured.err == (
        "astrum: rich is not installed, so this is the plain-text view; install it with "
        "pip install 'astrum[viz]' to see the tree.\n"
    )

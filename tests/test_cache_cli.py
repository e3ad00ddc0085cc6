"""``astrum cache stats|clear [--store PATH]``, through the real entry point."""

from __future__ import annotations

import asyncio
from pathlib import Path

from astrum import AstrumConfig, SchedulerRegistry, SqliteStore
from test_cli import astrum


def _filled_store(path: Path) -> str:
    """A store holding two cached results and one recorded run; returns the run's id."""
    flow = SchedulerRegistry("cli-cache")
    flow.task("a", cache=True)(lambda: "a")
    flow.task("b", cache=True)(lambda: "b")
    with SqliteStore(path) as store:
        return asyncio.run(flow.run(config=AstrumConfig(store=store))).run_id


def test_stats_then_clear(tmp_path: Path) -> None:
    """stats shows entries and recent runs; clear empties the store; stats then shows zero."""
    path = tmp_path / "cache.db"
    run_id = _filled_store(path)
    shown = astrum("cache", "stats", "--store", path)
    assert shown.returncode == 0, shown.stderr
    assert f"Cache store {path}" in shown.stdout
    assert "entries: 2" in shown.stdout
    assert "recorded runs: 1 (2 task results)" in shown.stdout
    assert run_id in shown.stdout
    cleared = astrum("cache", "clear", "--store", path)
    assert cleared.returncode == 0, cleared.stderr
    assert cleared.stdout == f"Removed 2 entries and every run record from {path}.\n"
    assert "entries: 0" in astrum("cache", "stats", "--store", path).stdout


def test_default_store_path_is_in_the_working_directory(tmp_path: Path) -> None:
    """Without --store the command uses .astrum-cache.db in the current directory."""
    _filled_store(tmp_path / ".astrum-cache.db")
    shown = astrum("cache", "stats", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "entries: 2" in shown.stdout


def test_missing_or_foreign_store_is_a_usage_error(tmp_path: Path) -> None:
    """A path without a store, or a file that is not one, exits 2 with one clear line."""
    missing = astrum("cache", "stats", "--store", tmp_path / "none.db")
    assert missing.returncode == 2
    assert missing.stderr.startswith("astrum: error: There is no cache store at")
    assert not (tmp_path / "none.db").exists()
    foreign = tmp_path / "notes.txt"
    foreign.write_text("not a database" * 50)
    broken = astrum("cache", "clear", "--store", foreign)
    assert broken.returncode == 2
    assert "is not a usable cache store" in broken.stderr
    assert astrum("cache", "purge").returncode == 2

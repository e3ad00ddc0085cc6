"""Running the worker in subprocesses and setting up the peers' virtual environments."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "BENCH",
    "ENVS",
    "ROOT",
    "Python",
    "median",
    "our_python",
    "peer_python",
    "run_worker",
]

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
ENVS = BENCH / ".envs"

PEER_REQUIREMENTS = {
    "astrum012": ["astrum==0.1.2"],
    "dagather": ["dagather==0.1.0"],
    "dask": ["dask"],
    "uvloop": ["uvloop"],
}
"""What each peer environment installs from PyPI (uvloop's runs our source from ``src``)."""


@dataclass(frozen=True)
class Python:
    """An interpreter to run the worker with, and extra import paths for it."""

    executable: str
    pythonpath: tuple[str, ...] = ()


def our_python() -> Python:
    """The interpreter running this script, which has Astrum installed."""
    return Python(sys.executable)


def peer_python(name: str) -> Python | None:
    """The interpreter of peer environment ``name``, created on first use; None if pip fails."""
    requirements = PEER_REQUIREMENTS[name]
    home = ENVS / name
    marker = home / ".installed"
    wanted = "\n".join(requirements)
    python = home / "bin" / "python"
    if not (marker.exists() and marker.read_text() == wanted and python.exists()):
        print(f"setting up {home.relative_to(ROOT)}: pip install {' '.join(requirements)}")
        shutil.rmtree(home, ignore_errors=True)
        venv.create(home, with_pip=True)
        done = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", *requirements],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            print(f"  could not install {requirements}; that column is left out:\n{done.stderr}")
            return None
        marker.write_text(wanted)
    pythonpath = (str(ROOT / "src"),) if name == "uvloop" else ()
    return Python(str(python), pythonpath)


def run_worker(
    python: Python,
    impl: str,
    workload: str,
    size: int = 0,
    repeats: int = 1,
    *,
    loop: str = "asyncio",
    memory: bool = False,
) -> dict[str, Any]:
    """The samples of one implementation on one workload, measured in a fresh process."""
    command = [python.executable, str(BENCH / "_worker.py"), impl, workload, str(size)]
    command += [str(repeats), "--loop", loop, *(["--memory"] if memory else [])]
    env = dict(os.environ)
    if python.pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(python.pythonpath)
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr}")
    samples: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return samples


def median(values: list[float]) -> float:
    return statistics.median(values)

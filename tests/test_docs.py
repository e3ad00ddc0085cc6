"""Every Python code block in the README and docs/, and every example, runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _blocks() -> list[object]:
    params: list[object] = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]:
        text = page.read_text(encoding="utf-8")
        for match in _BLOCK.finditer(text):
            code = match.group(1)
            if code.lstrip().startswith("--8<--"):
                continue  # an included file; the examples test runs it
            line = text.count("\n", 0, match.start()) + 2
            name = f"{page.relative_to(ROOT)}:{line}"
            params.append(pytest.param(code, id=name))
    return params


@pytest.mark.parametrize("code", _blocks())
def test_code_block_runs(code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The block executes without error in a fresh module of its own."""
    module = types.ModuleType("docs_block")
    monkeypatch.setitem(sys.modules, "docs_block", module)
    exec(compile(code, "<docs>", "exec"), module.__dict__)


@pytest.mark.parametrize(
    "example", sorted((ROOT / "examples").glob("*.py")), ids=lambda path: path.name
)
def test_example_runs(example: Path) -> None:
    """The example exits 0 when run as a script."""
    result = subprocess.run(
        [sys.executable, str(example)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr

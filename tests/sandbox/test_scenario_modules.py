"""Scenario world.py and playground.py files are valid Python modules on their own."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox import scenarios
from sandbox.runner import GUEST_DIR

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "sandbox" / "scenarios"


@pytest.mark.parametrize("name", sorted(p.parent.name for p in SCENARIOS.glob("*/world.py")))
def test_a_world_file_imports_as_a_module(name, monkeypatch):
    # As where it runs (the in-process runner): the learner API importable as ``saga_api``.
    monkeypatch.syspath_prepend(str(GUEST_DIR))
    module = importlib.import_module(f"sandbox.scenarios.{name}.world")
    assert Path(module.__file__).read_text() == scenarios.get(name).world_source


def test_world_and_playground_files_name_nothing_undefined():
    files = [*SCENARIOS.glob("*/world.py"), *SCENARIOS.glob("*/playground.py")]
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--select", "F821", "--output-format", "concise"]
        + [str(f) for f in files],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    # ruff is pinned in requirements-dev.txt: a missing ruff fails here, it does not skip.
    assert "No module named ruff" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stdout

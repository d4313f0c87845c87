"""The sandbox is plain Python: no module in it imports Django."""

import ast
from pathlib import Path

SANDBOX = Path(__file__).resolve().parents[2] / "sandbox"


def _imports(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_sandbox_imports_nothing_from_django():
    files = sorted(SANDBOX.rglob("*.py"))
    assert len(files) > 20
    offenders = [
        f"{path.relative_to(SANDBOX)}: {name}"
        for path in files
        for name in _imports(path)
        if name == "django" or name.startswith("django.")
    ]
    assert offenders == []


def test_guest_modules_do_not_import_the_sandbox_package():
    for path in (SANDBOX / "guest").glob("*.py"):
        names = list(_imports(path))
        assert not any(n == "sandbox" or n.startswith("sandbox.") for n in names), path

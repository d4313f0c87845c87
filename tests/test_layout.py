"""The code's layout shows the site's areas: imports go one way and nothing hides a broken import.

Read from the source with ``ast`` (nothing is imported), so a new cycle or a new hidden import fails
here with the module and line that made it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("courseapp", "lessons", "quicktest", "exercises", "teach", "sandbox")

# Which of our packages each area may import. The project package (courseapp, minus its lib) ties the
# areas together; courseapp.lib and sandbox are the bottom layers.
ALLOWED = {
    "courseapp.lib": {"courseapp.lib", "sandbox"},
    "sandbox": {"sandbox"},
    "exercises": {"courseapp.lib", "exercises", "sandbox"},
    "lessons": {"courseapp.lib", "lessons", "exercises", "sandbox"},
    "quicktest": {"courseapp.lib", "quicktest", "lessons"},
    "teach": {"courseapp.lib", "teach", "exercises", "lessons", "quicktest", "sandbox"},
    "courseapp": set(PACKAGES) | {"courseapp.lib"},
}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts or "content" in parts or "guest" in parts:
                continue
            if package == "sandbox" and "scenarios" in parts and len(parts) > 3:
                continue  # scenario code run by the simulator (references, variants): not imported
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _area(module: str) -> str:
    if module.startswith("courseapp.lib"):
        return "courseapp.lib"
    return module.split(".")[0]


def _comment_above(lines: list[str], index: int) -> bool:
    """A comment heads the block of imports (and blank lines) this import belongs to."""
    while index >= 0:
        text = lines[index].strip()
        if text.startswith("#"):
            return True
        if text and not text.startswith(("import ", "from ")):
            return False
        index -= 1
    return False


def _imports(name: str, path: Path) -> list[tuple[str, int, bool, bool]]:
    """(imported module, line, at module level, has a comment saying why) for our own packages."""
    tree = ast.parse(path.read_text(), str(path))
    lines = path.read_text().splitlines()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    top = {id(node) for node in tree.body}
    # Imports under `if TYPE_CHECKING:` are for annotations only: they never run.
    typing_only = {
        id(inner)
        for node in tree.body
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    out = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1]
                    + ([base] if base else [])
                )
            # `from pkg import mod` depends on pkg.mod; `from mod import name` on mod.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        else:
            continue
        why = "#" in lines[node.lineno - 1] or _comment_above(lines, node.lineno - 2)
        for target in targets:
            if target.split(".")[0] in PACKAGES and target in MODULES:
                out.append((target, node.lineno, id(node) in top, why))
    return out


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def test_every_area_imports_only_the_areas_below_it():
    wrong = [
        f"{name}:{line} imports {target}"
        for name, edges in GRAPH.items()
        for target, line, _, _ in edges
        if _area(target) not in ALLOWED[_area(name)]
    ]
    assert not wrong, "\n".join(wrong)


def test_no_module_imports_itself_in_a_circle():
    edges = {
        name: {target for target, _, _, _ in targets if target != name}
        for name, targets in GRAPH.items()
    }
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt) :] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert not cycles, "\n".join(cycles)


@pytest.mark.parametrize("area", sorted(ALLOWED))
def test_an_import_inside_a_function_says_why(area):
    hidden = [
        f"{name}:{line} imports {target} inside a function without a comment"
        for name, edges in GRAPH.items()
        if _area(name) == area
        for target, line, at_top, why in edges
        if not at_top and not why
    ]
    assert not hidden, "\n".join(hidden)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_a_broken_import_of_our_own_code_is_never_silenced(name):
    tree = ast.parse(MODULES[name].read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Try):
            caught = [h.type for h in node.handlers if h.type is not None]
            names = {n.id for t in caught for n in ast.walk(t) if isinstance(n, ast.Name)}
            if "ImportError" in names or "ModuleNotFoundError" in names:
                pytest.fail(f"{name}:{node.lineno} swallows an ImportError")


def test_django_stays_out_of_the_simulator():
    for name, path in MODULES.items():
        if _area(name) == "sandbox":
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    mods = (
                        [a.name for a in node.names]
                        if isinstance(node, ast.Import)
                        else [node.module or ""]
                    )
                    assert not any(m.split(".")[0] == "django" for m in mods), (
                        f"{name}:{node.lineno}"
                    )

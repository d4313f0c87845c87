"""The shared checks of the tests/test_hint_code_*.py files: an exercise's statement snippets and
hints that hold code get exactly the verdict their text promises.

Each file declares SNIPPETS, {where: (a phrase of that text, promise)}, where `where` is
"statement:N" (the N-th Python block of the statement) or "hint:N", and the promise is PROSE,
ILLUSTRATION (valid Python, not graded) or [(program, "pass" | invariant it breaks), ...]; then
binds the three tests `checks_for(slug, SNIPPETS)` returns to test_* names."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable

import pytest

import sandbox
from exercises.content_loader import CONTENT_DIR, read_exercise

PROSE = "prose"
ILLUSTRATION = "illustration"
Promise = str | list[tuple[str, str]]
_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def checks_for(
    slug: str, snippets: dict[str, tuple[str, Promise]], random_schedules: int = 200
) -> tuple[Callable[..., None], ...]:
    spec = read_exercise(CONTENT_DIR / slug)

    def texts() -> dict[str, str]:
        found = {f"statement:{i}": block for i, block in enumerate(_BLOCK.findall(spec.statement))}
        found.update({f"hint:{i}": hint for i, hint in enumerate(spec.hints)})
        return found

    def every_snippet_and_hint_is_declared_with_what_it_promises() -> None:
        found = texts()
        assert set(found) == set(snippets)
        for where, (phrase, _) in snippets.items():
            assert phrase in found[where], (where, phrase)

    def statement_snippets_are_valid_python() -> None:
        for where, text in texts().items():
            if where.startswith("statement:"):
                compile(text, where, "exec")

    @pytest.mark.parametrize(
        "where,program,expected",
        [
            (where, program, expected)
            for where, (_, promise) in snippets.items()
            if isinstance(promise, list)
            for program, expected in promise
        ],
    )
    def hint_gets_the_verdict_its_text_promises(where: str, program: str, expected: str) -> None:
        report = sandbox.grade(
            spec.scenario, textwrap.dedent(program), seed=0, random_schedules=random_schedules
        )
        broken = [v["name"] for v in report["violations"]]
        if expected == "pass":
            assert report["status"] == "passed", report["message"]
        else:
            assert report["status"] == "failed", report["message"]
            assert expected in broken, (broken, report["message"])

    return (
        every_snippet_and_hint_is_declared_with_what_it_promises,
        statement_snippets_are_valid_python,
        hint_gets_the_verdict_its_text_promises,
    )

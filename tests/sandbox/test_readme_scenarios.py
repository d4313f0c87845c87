"""sandbox/README.md's scenario table is what the scenarios declare (claims are code): regenerate it with
`python tests/sandbox/test_readme_scenarios.py` after changing a scenario."""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sandbox import scenarios  # noqa: E402

README = ROOT / "sandbox" / "README.md"
HEADER = (
    "| scenario | learner writes | invariants checked | faults explored | variants → what breaks |"
)


def row(name: str) -> str:
    sc = scenarios.get(name)
    writes = ", ".join(f"`{sc.signatures.get(f, f + '(...)')}`" for f in sc.functions)
    variants = ", ".join(
        f"`{v}` → {e}" for v, e in sc.expected.items() if v not in ("reference", "starter")
    )
    variants += f", `starter` → {sc.expected['starter']}" if "starter" in sc.expected else ""
    return (
        f"| `{name}` | {writes} | {', '.join(sc.checked)} | {', '.join(sc.fault_kinds)} | "
        f"{variants.lstrip(', ')} |"
    )


def table() -> str:
    return "\n".join(
        [HEADER, "| --- | --- | --- | --- | --- |", *(row(n) for n in scenarios.NAMES)]
    )


def _current(text: str) -> str:
    match = re.search(re.escape(HEADER) + r"\n(\|.*\n)+", text)
    assert match, "the scenario table is missing from sandbox/README.md"
    return match.group(0).rstrip("\n")


def test_the_readme_scenario_table_matches_the_scenarios():
    assert _current(README.read_text()) == table(), (
        "regenerate: python tests/sandbox/test_readme_scenarios.py"
    )


if __name__ == "__main__":
    text = README.read_text()
    README.write_text(text.replace(_current(text), table()))
    print("sandbox/README.md scenario table regenerated")

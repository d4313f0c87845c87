"""saga_styles grades one module's choreography and orchestration against the same invariants and
merges the two verdicts, with each style's calm run summarised for the side-by-side view."""

import pytest

import sandbox
from sandbox import scenarios

SC = scenarios.get("saga_styles")


def test_the_reference_passes_with_both_styles_summarised():
    report = sandbox.grade("saga_styles", SC.reference_source, random_schedules=100)
    assert report["status"] == "passed", report["message"]
    styles = report["styles"]
    assert list(styles) == ["choreography", "orchestration"]
    for summary in styles.values():
        assert summary["status"] == "passed" and summary["calm_status"] == "passed"
        assert summary["schedules_explored"] > 0 and summary["trace"]
        assert summary["messages"] > 0 and summary["orders"] > 0
        assert summary["hops_per_order"] == round(summary["messages"] / summary["orders"], 1)
    assert report["schedules_explored"] == sum(s["schedules_explored"] for s in styles.values())
    # Choreography spreads the saga's decisions over every service; orchestration keeps them in Order.
    assert styles["choreography"]["logic_in"] == ["order", "inventory", "payment"]
    assert styles["orchestration"]["logic_in"] == ["order"]


def test_the_two_styles_need_no_renaming():
    choreography = set(scenarios.get("order_saga_choreography").functions)
    orchestration = set(scenarios.get("order_saga_orchestration").functions)
    assert not choreography & orchestration
    assert set(SC.functions) == choreography | orchestration


@pytest.mark.parametrize(
    "variant",
    [v for v, (_, outcome) in SC.variants.items() if outcome != "pass" and v != "starter"],
)
def test_each_buggy_variant_fails_naming_its_style(variant):
    source, expected = SC.variants[variant]
    style = variant.split("_")[0]
    other = "orchestration" if style == "choreography" else "choreography"
    report = sandbox.grade("saga_styles", source, random_schedules=100)
    assert report["status"] == "failed", report["message"]
    assert report["message"].startswith(style.capitalize() + ":")
    titles = [v["title"] for v in report["violations"] if v["name"] == expected]
    assert titles and all(t.startswith(f"{style}: ") for t in titles)
    assert report["styles"][style]["status"] == "failed"
    assert report["styles"][other]["status"] == "passed"
    assert report["counterexample"] is not None and report["counterexample"]["trace"]


def test_a_missing_function_fails_in_its_style():
    source = SC.reference_source.replace("def handle_place_order(", "def handle_order(")
    report = sandbox.grade("saga_styles", source, random_schedules=10)
    assert report["status"] == "failed"
    assert "handle_place_order(command, ctx)" in report["message"]
    assert report["styles"]["orchestration"]["status"] == "failed"
    assert report["styles"]["choreography"]["status"] == "passed"


def test_a_passing_replay_shows_the_trace_of_the_style_its_faults_changed():
    failing = sandbox.grade(
        "saga_styles", SC.variants["orchestration_timeout_means_failure"][0], random_schedules=100
    )
    schedule = failing["counterexample"]["schedule"]
    assert schedule, "the orchestration variant needs a fault to fail"
    report = sandbox.replay("saga_styles", SC.reference_source, 0, schedule)
    assert report["status"] == "passed", report["message"]
    calm = report["styles"]["orchestration"]["trace"]
    assert report["counterexample"] is not None
    assert report["counterexample"]["trace"] != calm
    assert any(
        s["service"] == "order" and s["kind"] == "call" for s in report["counterexample"]["trace"]
    )


def test_every_source_is_composed_from_the_two_scenarios_files():
    from sandbox.scenarios.saga_styles import IMPORT, SOURCES

    assert set(SOURCES) == set(SC.expected)
    assert [p.name for p in SC.directory.glob("*.py")] == ["__init__.py"]
    parts = (scenarios.get("order_saga_choreography"), scenarios.get("order_saga_orchestration"))
    for stem, names in SOURCES.items():
        source = SC.variants[stem][0]
        for part, name in zip(parts, names):
            body = IMPORT.sub("", part._read(name), count=1).strip()
            assert body and body in source, (stem, part.name, name)

"""Every playground, with every toggle combination on two seeds, and the gradings of the scenarios
with trusted world code, produce exactly the reports recorded before the scenario files became
valid modules (tests/sandbox/report_snapshot.json; see snapshot_reports.py)."""

import json

import pytest

from tests.sandbox import snapshot_reports as snap

RECORDED = json.loads(snap.SNAPSHOT.read_text())


def test_every_recorded_case_still_exists():
    # Playgrounds and scenarios added later are not in the snapshot; none recorded may disappear.
    assert set(RECORDED["playgrounds"]) <= {case for case, *_ in snap.playground_cases()}
    assert set(RECORDED["gradings"]) <= {case for case, *_ in snap.grading_cases()}


def test_the_snapshot_covers_every_toggle_combination_of_the_recorded_playgrounds():
    recorded = {case.split("|")[0] for case in RECORDED["playgrounds"]}
    cases = {case for case, key, *_ in snap.playground_cases() if key in recorded}
    assert len(recorded) >= 7 and set(RECORDED["playgrounds"]) == cases


@pytest.mark.parametrize("key", sorted({case.split("|")[0] for case in RECORDED["playgrounds"]}))
def test_playground_reports_are_unchanged_for_every_toggle_combination(key):
    for case, pg, toggles, seed in snap.playground_cases():
        if pg == key:
            got = snap.fingerprint(snap.playgrounds.run(pg, toggles, seed))
            assert got == RECORDED["playgrounds"][case], case


@pytest.mark.parametrize(
    "case, name, source",
    [pytest.param(*c, id=c[0]) for c in snap.grading_cases() if c[0] in RECORDED["gradings"]],
)
def test_gradings_with_world_code_are_unchanged(case, name, source):
    assert snap.fingerprint(snap.grade_case(name, source)) == RECORDED["gradings"][case]

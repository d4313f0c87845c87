"""A verdict of the compare-saga-styles exercise shows both styles' calm runs side by side, with the
counts the grader computed from each trace."""

from __future__ import annotations

import json

import pytest

import sandbox
from courseapp.lib.content import LoadReport
from exercises.content_loader import CONTENT_DIR, load_exercises
from exercises.models import Exercise, Submission


@pytest.fixture(scope="module")
def graded():
    source = sandbox.scenarios.get("saga_styles").reference_source
    report = sandbox.grade("saga_styles", source, random_schedules=5)
    assert report["status"] == "passed", report["message"]
    return source, json.loads(json.dumps(report))  # as the site stores it


@pytest.fixture
def exercise(db):
    load_exercises(CONTENT_DIR, LoadReport())
    return Exercise.objects.get(slug="compare-saga-styles")


def _page(client, user, exercise, source, result):
    submission = Submission.objects.create(
        user=user,
        exercise=exercise,
        version=exercise.published_version,
        code=source,
        client_token="t",
        status=result["status"],
        result=result,
    )
    return client.get(submission.get_absolute_url()).content.decode()


def test_a_verdict_with_styles_renders_both_columns(alice_client, alice, exercise, graded):
    source, result = graded
    html = _page(alice_client, alice, exercise, source, result)
    assert html.count('class="style-column"') == 2
    assert "Choreography" in html and "Orchestration" in html
    assert "Timeline of the calm run by choreography" in html
    assert "Timeline of the calm run by orchestration" in html
    for summary in result["styles"].values():
        assert f"<dd>{summary['messages']}</dd>" in html
        assert f"<dd>{', '.join(summary['logic_in'])}</dd>" in html
    assert html.count('class="timeline timeline-') >= 4  # each trace drawn side and stacked
    assert " style=" not in html


def test_a_verdict_without_styles_has_no_columns(alice_client, alice, exercise, graded):
    source, result = graded
    result = {key: value for key, value in result.items() if key != "styles"}
    html = _page(alice_client, alice, exercise, source, result)
    assert "style-column" not in html

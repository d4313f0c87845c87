"""A learner's submissions to one exercise: single-spaced diffs, any version back into the editor,
and a comparison with the reference once it is revealed."""

from __future__ import annotations

import re

import pytest
from django.utils.html import escape

from courseapp.lib.content import LoadReport
from exercises.content_loader import CONTENT_DIR, load_exercises
from exercises.models import Exercise, Submission

URL = "/exercises/idempotent-consumer/history/"


@pytest.fixture
def exercise(db):
    load_exercises(CONTENT_DIR, LoadReport())
    return Exercise.objects.get(slug="idempotent-consumer")


def _submit(user, exercise, code, token, status="failed", year=None):
    item = Submission.objects.create(
        user=user,
        exercise=exercise,
        version=exercise.published_version,
        code=code,
        client_token=token,
        status=status,
        result={"status": status, "message": f"verdict {token}"},
    )
    if year:
        Submission.objects.filter(pk=item.pk).update(created_at=item.created_at.replace(year=year))
    return item


def test_a_diff_is_single_spaced(alice_client, alice, exercise):
    _submit(alice, exercise, "a = 1\nb = 2\nc = 3\n", "1", year=2020)
    _submit(alice, exercise, "a = 1\nb = 3\nc = 3\n", "2")
    html = alice_client.get(URL).content.decode()
    diff = re.search(r'<pre class="diff"[^>]*>(.*?)</pre>', html, re.S).group(1)
    # One block per line and nothing between them: a newline there would add an empty line each.
    assert "\n" not in diff and "</span><span" in diff
    assert '<span class="del">-b = 2</span><span class="add">+b = 3</span>' in diff


def test_every_version_can_be_loaded_back_into_the_editor(alice_client, alice, exercise):
    first = _submit(alice, exercise, "# first\n", "1", year=2020)
    second = _submit(alice, exercise, "# second\n", "2")
    html = alice_client.get(URL).content.decode()
    for item in (first, second):
        assert f'href="/exercises/idempotent-consumer/?from={item.pk}">Load into editor' in html
    page = alice_client.get(f"/exercises/idempotent-consumer/?from={first.pk}").content.decode()
    assert "# first" in page.split('name="code"', 1)[1].split("</textarea>", 1)[0]


def test_compare_with_the_reference_appears_once_it_is_revealed(alice_client, alice, exercise):
    _submit(alice, exercise, "def on_payment_captured(event, ctx):\n    pass\n", "1")
    assert "Compare with the reference solution" not in alice_client.get(URL).content.decode()
    _submit(alice, exercise, exercise.published_version.solution, "2", status="passed")
    html = alice_client.get(URL).content.decode()
    assert (
        html.count("Compare with the reference solution") == 1
    )  # the passing one is the reference
    assert "This version is the reference solution, line for line." in html
    compare = html.split('<details class="solution-compare">', 1)[1].split("</details>", 1)[0]
    assert '<span class="del">-    pass</span>' in compare
    # The whole reference is there, not just the lines around a change.
    for line in exercise.published_version.solution.splitlines():
        assert escape(line) in compare


def test_another_learners_history_stays_theirs(client, alice, bob, exercise):
    _submit(alice, exercise, "# alice only\n", "1")
    client.force_login(bob)
    html = client.get(URL).content.decode()
    assert "# alice only" not in html and "Load into editor" not in html

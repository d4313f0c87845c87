"""Hostile submissions through the whole grading path: whatever learner code
does, it never ends as a pass, never breaks the page, and never hangs a worker."""

from __future__ import annotations

import shutil

import pytest

from courseapp.lib.content import LoadReport
from exercises import grading
from exercises.content_loader import CONTENT_DIR, load_exercises
from exercises.models import Exercise, ExerciseVersion, Submission
from tests.conftest import need

FAKE_PASS = '{"status": "passed", "message": "All invariants held"}'

HOSTILE = {
    "prints a fake verdict": f"print({FAKE_PASS!r})\ndef on_payment_captured(event, ctx):\n    print({FAKE_PASS!r})\n",
    "exits at import": "import sys\nsys.exit(0)\n",
    "exits in the handler": "import os\ndef on_payment_captured(event, ctx):\n    os._exit(0)\n",
    "loops forever": "def on_payment_captured(event, ctx):\n    while True:\n        pass\n",
    "eats memory": "def on_payment_captured(event, ctx):\n    x = ['a' * 10**6 for _ in range(10**5)]\n",
    "floods output": "def on_payment_captured(event, ctx):\n    while True:\n        print('spam' * 1000)\n",
    "reads the project's secrets": (
        "import os\nprint(os.environ.get('SECRET_KEY'), os.path.exists('/work'))\n"
        "def on_payment_captured(event, ctx):\n    pass\n"
    ),
    "patches the grader's api": (
        "import saga_api\nsaga_api.Transaction.update = lambda *a, **k: None\n"
        "def on_payment_captured(event, ctx):\n    pass\n"
    ),
    "forks": "import os\nfor _ in range(200):\n    try:\n        os.fork()\n    except OSError:\n        break\n",
    "html in the output": "print('<script>alert(1)</script>')\ndef on_payment_captured(event, ctx):\n    pass\n",
}


@pytest.fixture
def exercise(db, settings):
    need(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    ok, reason = grading.jail_status()
    need(ok, f"the jail cannot be built here: {reason}")
    settings.SANDBOX_ALLOW_UNJAILED = False
    settings.SANDBOX_RANDOM_SCHEDULES = 10
    load_exercises(CONTENT_DIR, LoadReport())
    exercise = Exercise.objects.get(slug="idempotent-consumer")
    # Tight limits keep the slow cases quick.
    ExerciseVersion.objects.filter(pk=exercise.published_version_id).update(
        limits={"wall_seconds": 3, "cpu_seconds": 2, "memory_mb": 128, "output_bytes": 4096}
    )
    exercise.refresh_from_db()
    return exercise


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_code_never_passes_and_the_page_still_renders(alice, alice_client, exercise, name):
    submission = Submission.objects.create(
        user=alice,
        exercise=exercise,
        version=exercise.published_version,
        code=HOSTILE[name],
        client_token=name,
    )
    outcome = grading.run_grading(submission.pk)
    submission.refresh_from_db()
    assert outcome in ("failed", "error", "timeout") and submission.status in ("failed", "error"), (
        submission.result
    )
    assert submission.result["jailed"] is True
    assert len(submission.result["output"]) <= grading.STORED_OUTPUT_CHARS
    html = alice_client.get(submission.get_absolute_url()).content.decode()
    assert "<script>alert(1)</script>" not in html
    if name == "reads the project's secrets":
        assert "None False" in submission.result["output"]

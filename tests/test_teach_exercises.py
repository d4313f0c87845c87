"""Authoring an exercise: create, edit into new versions, validate in the jail, publish."""

from __future__ import annotations

import pytest

from exercises import grading
from exercises.models import Exercise, Submission
from sandbox import scenarios
from teach import authoring
from teach import tasks as teach_tasks
from tests.conftest import need

SCENARIO = scenarios.get("idempotent_consumer")
BROKEN_REFERENCE = "def on_payment_captured(event, ctx):\n    pass\n"


@pytest.fixture(autouse=True)
def fast(settings):
    from courseapp.celery import app

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.SANDBOX_RANDOM_SCHEDULES = 10
    # Tasks run in-process even where CELERY_BROKER_URL is set (CI): the app's conf is what counts.
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CELERY_BROKER_URL = ""  # no worker serves these tests, even where CI has a broker
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture
def jail():
    ok, reason = grading.jail_status()
    need(ok, f"the jail cannot be built here: {reason}")


@pytest.fixture
def instructor_client(client, bob):
    authoring.make_instructor(bob)
    client.force_login(bob)
    return client


def form_data(**overrides) -> dict:
    data = {
        "title": "Confirm once",
        "slug": "confirm-once",
        "module": "2",
        "order": "9",
        "summary": "Dedupe PaymentCaptured.",
        "statement": "## Task\r\n\r\nWrite `on_payment_captured`.\r\n",
        "scenario": "idempotent_consumer",
        "starter": SCENARIO.starter_source,
        "solution": SCENARIO.reference_source,
        "hints": "Remember event ids.\r\n\r\nUse the outbox.",
        "reveal_after": "3",
        "random_schedules": "10",
        "variants-TOTAL_FORMS": "2",
        "variants-INITIAL_FORMS": "0",
        "variants-MIN_NUM_FORMS": "0",
        "variants-MAX_NUM_FORMS": "30",
        "variants-0-name": "no_dedup",
        "variants-0-expected": "confirmed_once",
        "variants-0-source": SCENARIO.variants["no_dedup"][0],
        "variants-1-name": "",
        "variants-1-expected": "",
        "variants-1-source": "",
        "save": "1",
    }
    data.update(overrides)
    return data


def test_an_instructor_creates_an_exercise_as_an_unpublished_version_1(instructor_client, bob):
    response = instructor_client.post("/teach/exercises/new/", form_data())
    assert (
        response.status_code == 302 and response["Location"] == "/teach/exercises/confirm-once/v1/"
    )
    exercise = Exercise.objects.get(slug="confirm-once")
    version = exercise.latest_version()
    assert exercise.published_version is None and version.number == 1 and version.created_by == bob
    assert version.hints == ["Remember event ids.", "Use the outbox."]
    assert version.statement == "## Task\n\nWrite `on_payment_captured`.\n"
    assert version.variants == {
        "no_dedup": {"source": SCENARIO.variants["no_dedup"][0], "expected": "confirmed_once"}
    }
    assert instructor_client.get("/exercises/confirm-once/").status_code == 404


def test_the_form_refuses_python_that_does_not_compile(instructor_client):
    response = instructor_client.post("/teach/exercises/new/", form_data(solution="def broken(:\n"))
    assert response.status_code == 200
    assert "Python syntax error on line 1" in response.content.decode()
    assert not Exercise.objects.exists()


def test_the_form_refuses_a_variant_naming_an_invariant_the_scenario_does_not_check(
    instructor_client,
):
    response = instructor_client.post(
        "/teach/exercises/new/", form_data(**{"variants-0-expected": "twopc_agreement"})
    )
    assert "does not check this invariant" in response.content.decode()
    assert not Exercise.objects.exists()


def test_the_form_refuses_limits_above_the_site_caps(instructor_client):
    response = instructor_client.post("/teach/exercises/new/", form_data(limit_cpu_seconds="999"))
    assert "less than or equal to 20" in response.content.decode()
    assert not Exercise.objects.exists()


def test_limits_within_the_caps_are_kept(instructor_client):
    instructor_client.post(
        "/teach/exercises/new/", form_data(limit_wall_seconds="12.5", limit_memory_mb="300")
    )
    assert Exercise.objects.get().latest_version().limits == {
        "wall_seconds": 12.5,
        "memory_mb": 300,
    }


def test_a_taken_slug_is_refused(instructor_client):
    instructor_client.post("/teach/exercises/new/", form_data())
    response = instructor_client.post("/teach/exercises/new/", form_data(title="Again"))
    assert "already exists" in response.content.decode()


def test_the_preview_button_renders_the_statement_without_saving(instructor_client):
    response = instructor_client.post(
        "/teach/exercises/new/", form_data(preview="1", save="", statement="# Hi *there*")
    )
    assert "<em>there</em>" in response.content.decode()
    assert not Exercise.objects.exists()


def test_the_htmx_preview_returns_just_the_rendered_statement(instructor_client):
    response = instructor_client.post(
        "/teach/preview/", {"statement": "Some **bold**"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert "<strong>bold</strong>" in html and "<html" not in html


def test_editing_the_content_creates_a_new_version_and_keeps_the_published_one(instructor_client):
    instructor_client.post("/teach/exercises/new/", form_data())
    exercise = Exercise.objects.get()
    Exercise.objects.filter(pk=exercise.pk).update(published_version=exercise.latest_version())
    response = instructor_client.post(
        "/teach/exercises/confirm-once/edit/", form_data(hints="A better hint.")
    )
    assert response["Location"] == "/teach/exercises/confirm-once/v2/"
    exercise.refresh_from_db()
    assert exercise.latest_version().number == 2 and exercise.published_version.number == 1


def test_editing_only_the_title_keeps_the_version(instructor_client):
    instructor_client.post("/teach/exercises/new/", form_data())
    instructor_client.post("/teach/exercises/confirm-once/edit/", form_data(title="A new title"))
    exercise = Exercise.objects.get()
    assert exercise.title == "A new title" and exercise.versions.count() == 1


def test_the_slug_cannot_change_on_edit(instructor_client):
    instructor_client.post("/teach/exercises/new/", form_data())
    instructor_client.post(
        "/teach/exercises/confirm-once/edit/", form_data(slug="renamed", hints="Other.")
    )
    assert list(Exercise.objects.values_list("slug", flat=True)) == ["confirm-once"]


def test_the_edit_form_starts_from_the_latest_version(instructor_client):
    instructor_client.post("/teach/exercises/new/", form_data())
    html = instructor_client.get("/teach/exercises/confirm-once/edit/").content.decode()
    assert "Remember event ids." in html and 'value="no_dedup"' in html


def test_validation_passes_and_the_version_can_be_published(
    instructor_client, jail, django_capture_on_commit_callbacks
):
    instructor_client.post("/teach/exercises/new/", form_data())
    with django_capture_on_commit_callbacks(execute=True):
        instructor_client.post("/teach/exercises/confirm-once/v1/validate/")
    version = Exercise.objects.get().latest_version()
    assert version.validation["status"] == "passed" and version.validated_at is not None
    assert [check["ok"] for check in version.validation["checks"]] == [True, True, True]
    assert (
        "Every check held"
        in instructor_client.get("/teach/exercises/confirm-once/v1/").content.decode()
    )
    response = instructor_client.post("/teach/exercises/confirm-once/v1/publish/")
    assert response.status_code == 302
    assert Exercise.objects.get().published_version == version
    assert instructor_client.get("/exercises/confirm-once/").status_code == 200


def test_publishing_is_refused_when_the_reference_fails(
    instructor_client, jail, django_capture_on_commit_callbacks
):
    instructor_client.post("/teach/exercises/new/", form_data(solution=BROKEN_REFERENCE))
    with django_capture_on_commit_callbacks(execute=True):
        instructor_client.post("/teach/exercises/confirm-once/v1/validate/")
    version = Exercise.objects.get().latest_version()
    assert version.validation["status"] == "failed" and version.validated_at is None
    reference = version.validation["checks"][0]
    assert (
        reference["kind"] == "reference"
        and not reference["ok"]
        and "it must pass" in reference["why"]
    )
    response = instructor_client.post("/teach/exercises/confirm-once/v1/publish/", follow=True)
    assert "cannot be published: its validation failed" in response.content.decode()
    assert Exercise.objects.get().published_version is None


def test_publishing_is_refused_before_any_validation(instructor_client):
    instructor_client.post("/teach/exercises/new/", form_data())
    response = instructor_client.post("/teach/exercises/confirm-once/v1/publish/", follow=True)
    assert "it has not been validated yet" in response.content.decode()
    assert Exercise.objects.get().published_version is None


def test_a_variant_that_breaks_another_invariant_fails_validation(instructor_client, jail):
    instructor_client.post(
        "/teach/exercises/new/", form_data(**{"variants-0-expected": "no_lost_event"})
    )
    version = Exercise.objects.get().latest_version()
    outcome = authoring.validate(version)
    variant = outcome["checks"][2]
    assert outcome["status"] == "failed" and not variant["ok"]
    assert variant["why"] == "it must break no_lost_event, but it broke confirmed_once"


def test_a_starter_that_passes_fails_validation(instructor_client, jail):
    instructor_client.post("/teach/exercises/new/", form_data(starter=SCENARIO.reference_source))
    outcome = authoring.validate(Exercise.objects.get().latest_version())
    assert outcome["status"] == "failed" and "it must fail" in outcome["checks"][1]["why"]


def test_a_validation_request_runs_once(instructor_client, jail):
    instructor_client.post("/teach/exercises/new/", form_data())
    version = Exercise.objects.get().latest_version()
    token = teach_tasks.request_validation(version)
    assert authoring.run_validation(version.pk, token) == "passed"
    assert authoring.run_validation(version.pk, token) == "done"
    assert authoring.run_validation(version.pk, "an-older-request") == "superseded"


def test_a_validation_queued_on_a_broker_shows_as_queued_and_polls(
    instructor_client, settings, monkeypatch
):
    from teach import tasks as teach_tasks

    sent = []
    monkeypatch.setattr(
        teach_tasks.validate_exercise_version, "delay", lambda *args: sent.append(args)
    )
    instructor_client.post("/teach/exercises/new/", form_data())
    response = instructor_client.post(
        "/teach/exercises/confirm-once/v1/validate/", HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert "Validation is queued" in html and 'hx-trigger="every 2s"' in html


def test_a_new_version_leaves_old_submissions_attached_to_the_old_one(
    instructor_client, alice, jail, django_capture_on_commit_callbacks
):
    instructor_client.post("/teach/exercises/new/", form_data())
    v1 = Exercise.objects.get().latest_version()
    authoring.run_validation(v1.pk, teach_tasks.request_validation(v1))
    v1.refresh_from_db()
    authoring.publish(v1)
    old = Submission.objects.create(
        user=alice,
        exercise=v1.exercise,
        version=v1,
        code="x = 1\n",
        client_token="a",
        status="failed",
    )

    instructor_client.post(
        "/teach/exercises/confirm-once/edit/", form_data(hints="A clearer hint.")
    )
    v2 = Exercise.objects.get().latest_version()
    authoring.run_validation(v2.pk, teach_tasks.request_validation(v2))
    v2.refresh_from_db()
    instructor_client.post("/teach/exercises/confirm-once/v2/publish/")

    old.refresh_from_db()
    assert Exercise.objects.get().published_version == v2
    assert old.version == v1 and v1.number == 1 and v2.number == 2
    new = Submission.objects.create(
        user=alice,
        exercise=v2.exercise,
        version=Exercise.objects.get().published_version,
        code="x = 2\n",
        client_token="b",
        status="failed",
    )
    assert new.version == v2
    alice_html = _client_for(alice).get(old.get_absolute_url()).content.decode()
    assert "version 1 of the exercise" in alice_html


def _client_for(user):
    from django.test import Client

    other = Client()
    other.force_login(user)
    return other


def test_an_unreachable_broker_ends_the_request_as_failed_instead_of_queued(
    instructor_client, monkeypatch, django_capture_on_commit_callbacks
):
    from teach import tasks as teach_tasks

    def refuse(*args):
        raise ConnectionError("broker down")

    monkeypatch.setattr(teach_tasks.validate_exercise_version, "delay", refuse)
    instructor_client.post("/teach/exercises/new/", form_data())
    with django_capture_on_commit_callbacks(execute=True):
        instructor_client.post("/teach/exercises/confirm-once/v1/validate/")
    version = Exercise.objects.get().latest_version()
    assert (
        version.validation["status"] == "failed"
        and "could not be queued" in version.validation["error"]
    )
    assert (
        "could not be queued"
        in instructor_client.get("/teach/exercises/confirm-once/v1/").content.decode()
    )


def test_saving_a_loaded_exercise_unchanged_keeps_its_version(instructor_client, content):
    from teach.forms import ExerciseForm, variant_initial

    exercise = Exercise.objects.get(slug="idempotent-consumer")
    before = exercise.versions.count()
    spec = authoring.spec_for(exercise, exercise.latest_version())
    crlf = lambda value: str(value).replace("\n", "\r\n")  # noqa: E731  (what browsers send)
    data = {name: crlf(value) for name, value in ExerciseForm.initial_from(spec).items()}
    variants = variant_initial(spec)
    data.update(
        {
            "variants-TOTAL_FORMS": str(len(variants) + 1),
            "variants-INITIAL_FORMS": str(len(variants)),
            "variants-MIN_NUM_FORMS": "0",
            "variants-MAX_NUM_FORMS": "30",
            "save": "1",
        }
    )
    for n, variant in enumerate(variants):
        data.update({f"variants-{n}-{key}": crlf(value) for key, value in variant.items()})
    response = instructor_client.post(
        "/teach/exercises/idempotent-consumer/edit/", data, follow=True
    )
    assert "The content is unchanged" in response.content.decode()
    assert exercise.versions.count() == before


def test_the_scenario_button_fills_empty_code_and_adds_its_variants_without_saving(
    instructor_client,
):
    data = form_data(starter="", solution="# mine\n", save="", from_scenario="1")
    html = instructor_client.post("/teach/exercises/new/", data).content.decode()
    assert "# mine" in html and "def on_payment_captured" in html
    for name in ("dedup_after_effect", "publish_after_commit"):
        assert f'value="{name}"' in html
    from sandbox import scenarios

    known = [
        v
        for v in scenarios.get("idempotent_consumer").variants
        if v not in ("reference", "starter")
    ]
    assert html.count('value="no_dedup"') == 1
    assert f'name="variants-TOTAL_FORMS" value="{len(known) + 1}"' in html
    assert not Exercise.objects.exists()

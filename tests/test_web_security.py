"""Web checks beyond tests/test_security.py and tests/test_xss.py: CSRF on
every URL pattern, escaping of replays, analytics and author-controlled names,
error pages that leak nothing with DEBUG off, and no open redirect after
log-in. (Quick Test tampering — another attempt's id, answering after
finishing, out-of-turn answers — is in tests/test_quick_test.py.)"""

from __future__ import annotations

import re
import uuid

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, include, path, resolve
from django.urls.exceptions import Resolver404
from django.urls.resolvers import RegexPattern, RoutePattern

from courseapp.lib.content import LoadReport
from exercises.content_loader import CONTENT_DIR, load_exercises
from exercises.models import Exercise, Replay, Submission
from teach import authoring
from tests.test_xss import PAYLOAD, _assert_inert

pytestmark = pytest.mark.django_db


@pytest.fixture
def exercise(db):
    load_exercises(CONTENT_DIR, LoadReport())
    return Exercise.objects.get(slug="idempotent-consumer")


# -- CSRF on every URL pattern ------------------------------------------------------------

SAMPLE = {
    "slug": "idempotent-consumer",
    "str": "x",
    "path": "x",
    "int": "1",
    "uuid": str(uuid.uuid4()),
}


def _sample_regex(regex: str) -> str:
    """A concrete path matching a simple regex pattern (named groups filled with a plausible value)."""

    def group(match):
        body = match.group(2)
        words = body.split("|")
        if all(re.fullmatch(r"[\w-]+", w) for w in words):
            return words[0]
        return "1"

    text = re.sub(r"\(\?P<(\w+)>((?:[^()]|\([^()]*\))*)\)", group, regex)
    return text.lstrip("^").rstrip("$").replace("\\", "")


def _paths(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        pattern = entry.pattern
        if isinstance(pattern, RoutePattern):
            part = re.sub(
                r"<(?:(\w+):)?\w+>", lambda m: SAMPLE.get(m.group(1) or "str", "x"), str(pattern)
            )
        elif isinstance(pattern, RegexPattern):
            part = _sample_regex(pattern.regex.pattern)
        else:
            continue
        if isinstance(entry, URLResolver):
            yield from _paths(entry, prefix + part)
        elif isinstance(entry, URLPattern):
            yield "/" + prefix + part


def _every_path():
    out = []
    for candidate in sorted(set(_paths())):
        try:
            resolve(candidate)
        except Resolver404:
            continue
        out.append(candidate)
    return out


def test_the_enumeration_reaches_every_view_of_ours():
    paths = _every_path()
    resolved = {resolve(p).view_name for p in paths}
    ours = {
        "exercises:submit",
        "exercises:replay",
        "exercises:hint",
        "teach:exercise_new",
        "teach:publish",
        "quiz:answer",
        "quiz:new",
        "account_delete",
        "account_signup",
        "account_login",
        "account_logout",
    }
    assert ours <= resolved, ours - resolved
    assert len(paths) > 60


def test_every_url_refuses_a_post_without_a_csrf_token(content, alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    authoring.make_instructor(alice)  # so that no view answers 403 for another reason first
    accepted = []
    for url in _every_path():
        response = client.post(url, {"x": "1"})
        if response.status_code != 403 or b"CSRF" not in response.content:
            accepted.append((url, response.status_code))
    assert accepted == []


def test_a_post_with_the_token_gets_through(content, alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    client.get("/quick-test/")
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    assert client.post("/quick-test/new/", {"csrfmiddlewaretoken": token}).status_code == 302


# -- XSS through replays, analytics and names ---------------------------------------------


def _hostile_result():
    return {
        "status": "failed",
        "message": PAYLOAD,
        "seed": 1,
        "output": PAYLOAD,
        "lanes": [PAYLOAD],
        "invariants": [],
        "violations": [{"name": PAYLOAD, "title": PAYLOAD, "detail": PAYLOAD}],
        "counterexample": {
            "seed": 1,
            "schedule": [],
            "trace": [
                {
                    "t": 0,
                    "service": PAYLOAD,
                    "kind": "error",
                    "message_id": PAYLOAD,
                    "correlation_id": PAYLOAD,
                    "detail": PAYLOAD,
                    "to": PAYLOAD,
                }
            ],
        },
    }


def test_a_replay_result_with_markup_is_shown_inert(alice_client, alice, exercise):
    submission = Submission.objects.create(
        user=alice,
        exercise=exercise,
        version=exercise.published_version,
        code=PAYLOAD,
        client_token="r",
        status="failed",
        result=_hostile_result(),
    )
    replay = Replay.objects.create(submission=submission, status="done", result=_hostile_result())
    for htmx in (False, True):
        headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
        html = alice_client.get(replay.get_absolute_url(), **headers).content.decode()
        assert "Replay of seed 1" in html
        _assert_inert(html)


def test_learner_and_exercise_names_are_escaped_in_the_instructor_analytics(
    client, exercise, bob, django_user_model
):
    mallory = django_user_model.objects.create_user(
        "mallory", email=f"m{PAYLOAD}@example.com", password="x"
    )
    Submission.objects.create(
        user=mallory,
        exercise=exercise,
        version=exercise.published_version,
        code="x",
        client_token="m",
        status="error",
        retired=True,
        correlation_id="c-1",
        result=_hostile_result(),
    )
    Exercise.objects.filter(pk=exercise.pk).update(title=PAYLOAD)
    authoring.make_instructor(bob)
    client.force_login(bob)
    for url in [
        "/teach/",
        "/teach/exercises/idempotent-consumer/stats/",
        "/teach/exercises/idempotent-consumer/",
    ]:
        html = client.get(url).content.decode()
        assert client.get(url).status_code == 200, url
        _assert_inert(html)


def test_an_exercise_title_with_markup_is_escaped_for_learners(alice_client, alice, exercise):
    Exercise.objects.filter(pk=exercise.pk).update(title=PAYLOAD, summary=PAYLOAD)
    Submission.objects.create(
        user=alice,
        exercise=exercise,
        version=exercise.published_version,
        code="x",
        client_token="t",
        status="failed",
        result=_hostile_result(),
    )
    for url in [
        "/exercises/",
        "/exercises/idempotent-consumer/",
        "/exercises/idempotent-consumer/history/",
        "/dashboard/",
    ]:
        _assert_inert(alice_client.get(url).content.decode())


# -- error pages with DEBUG off -------------------------------------------------------------


def boom(request):
    raise RuntimeError(f"secret detail {settings.BASE_DIR} SECRET_KEY={settings.SECRET_KEY}")


urlpatterns = [path("boom/", boom), path("", include("courseapp.urls"))]

LEAKS = [
    "Traceback",
    "SECRET_KEY",
    "secret detail",
    "DATABASES",
    "urlpatterns",
    "Django tried these URL patterns",
    "site-packages",
    "courseapp.urls",
    "settings.py",
    "You're seeing this error because",
]


def _assert_no_leak(html: str):
    for leak in LEAKS + [str(settings.BASE_DIR), settings.SECRET_KEY]:
        assert leak not in html, leak


def test_a_404_with_debug_off_leaks_nothing(alice_client, settings, content):
    client = alice_client
    settings.DEBUG = False
    for url in [
        "/no-such-page/",
        "/exercises/no-such-exercise/",
        f"/exercises/submissions/{uuid.uuid4()}/",
        "/lessons/../../etc/passwd",
        "/static/../courseapp/settings.py",
    ]:
        response = client.get(url)
        assert response.status_code == 404, url
        _assert_no_leak(response.content.decode())


def test_a_500_with_debug_off_leaks_nothing(settings, db):
    settings.DEBUG = False
    settings.ROOT_URLCONF = __name__
    client = Client(raise_request_exception=False)
    response = client.get("/boom/")
    assert response.status_code == 500
    _assert_no_leak(response.content.decode())


def test_the_csrf_failure_page_with_debug_off_leaks_nothing(settings, alice):
    settings.DEBUG = False
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post("/quick-test/new/")
    assert response.status_code == 403
    _assert_no_leak(response.content.decode())
    assert "CSRF_COOKIE" not in response.content.decode()


# -- no open redirect after log-in, sign-up or log-out ---------------------------------------

HOSTILE_NEXT = [
    "https://evil.example/",
    "//evil.example/",
    "/\\evil.example/",
    "\\\\evil.example",
    "https:evil.example",
    "http://127.0.0.1.evil.example/",
    " https://evil.example",
    "javascript:alert(1)",
]


def _lands_home(response) -> bool:
    location = response.headers.get("Location", "")
    return location.startswith("/") and not location.startswith(("//", "/\\"))


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_logging_in_never_redirects_off_site(client, alice, password, target):
    response = client.post(
        "/accounts/login/?next=" + target, {"login": alice.email, "password": password}
    )
    assert response.status_code == 302 and _lands_home(response), response.headers.get("Location")
    assert "evil" not in response["Location"]


@pytest.mark.parametrize("target", HOSTILE_NEXT[:3])
def test_a_posted_next_field_is_just_as_safe(client, alice, password, target):
    response = client.post(
        "/accounts/login/", {"login": alice.email, "password": password, "next": target}
    )
    assert (
        response.status_code == 302 and _lands_home(response) and "evil" not in response["Location"]
    )


def test_a_safe_next_is_followed(client, alice, password):
    response = client.post(
        "/accounts/login/?next=/exercises/", {"login": alice.email, "password": password}
    )
    assert response["Location"] == "/exercises/"


@pytest.mark.parametrize("target", HOSTILE_NEXT[:3])
def test_signing_up_and_logging_out_never_redirect_off_site(client, target):
    response = client.post(
        "/accounts/signup/?next=" + target,
        {
            "email": "newbie@example.com",
            "password1": "a-long-secret-phrase-1",
            "password2": "a-long-secret-phrase-1",
        },
    )
    assert (
        response.status_code == 302 and _lands_home(response) and "evil" not in response["Location"]
    )
    response = client.post("/accounts/logout/?next=" + target)
    assert (
        response.status_code == 302 and _lands_home(response) and "evil" not in response["Location"]
    )

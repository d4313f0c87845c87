"""A newcomer's first steps: "Start the course" opens lesson 1; the log-in and sign-up pages speak
the site's words ("Log in", "Sign up") and say that progress made so far is kept; an anonymous
visitor can open an exercise and run code, and submitting asks them to sign up, their code kept
and back in the editor afterwards."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from courseapp.lib.content import LoadReport
from exercises import runs
from exercises.content_loader import CONTENT_DIR, load_exercises
from exercises.models import Submission
from exercises.tasks import run_code
from lessons.models import Lesson

PAGE = "/exercises/idempotent-consumer/"
PASSWORD = "a-long-secret-phrase-1"


@pytest.fixture
def exercises(db, embedded_mode):
    """The exercises only (the lessons are not needed to run code or to submit)."""
    load_exercises(CONTENT_DIR, LoadReport())


@pytest.fixture
def quiet_graders(monkeypatch):
    """Nothing is graded or run here: only what the pages say and keep."""
    monkeypatch.setattr(run_code, "delay", lambda *a: None)
    monkeypatch.setattr("exercises.dispatch.send_grading", lambda *a: True)


def _words(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _main(html: str) -> str:
    return html[html.index("<main") : html.index("</main>")]


def test_start_the_course_opens_lesson_one(client, content):
    html = client.get("/").content.decode()
    first = Lesson.objects.order_by("order").first()
    assert re.search(
        rf'<a class="button" href="{first.get_absolute_url()}">Start the course</a>', html
    )
    assert client.get(first.get_absolute_url()).status_code == 200


@pytest.mark.parametrize("url", ["/accounts/login/", "/accounts/signup/"])
def test_the_account_pages_never_say_sign_in_or_login(client, db, url):
    words = _words(client.get(url).content.decode())
    for wrong in ("Sign In", "Sign in", "sign in", "Signin", "Login", "Signup", "Sign Up"):
        assert not re.search(rf"\b{wrong}\b", words), (url, wrong)


def test_the_log_in_page_says_log_in_and_that_progress_is_kept(client, db):
    html = client.get("/accounts/login/?next=/exercises/").content.decode()
    assert "<title>Log in · Saga School</title>" in html
    main = _main(html)
    assert "<h1>Log in</h1>" in main and '<button type="submit">Log in</button>' in main
    assert 'href="/accounts/signup/?next=%2Fexercises%2F">Sign up</a>' in main
    kept = _words(main)
    assert "Your progress so far is kept" in kept
    assert "Quick Test attempts" in kept and "lessons you marked done" in kept
    assert "code you ran or tried to submit" in kept


def test_the_sign_up_page_says_sign_up_keeps_next_and_that_progress_is_kept(client, db):
    main = _main(client.get(f"/accounts/signup/?next={PAGE}").content.decode())
    assert "<h1>Sign up</h1>" in main and '<button type="submit">Sign up</button>' in main
    assert f'<input type="hidden" name="next" value="{PAGE}">' in main
    assert "Log in</a>" in main and "Your progress so far is kept" in _words(main)


def test_the_log_out_page_says_log_out(alice_client):
    main = _main(alice_client.get("/accounts/logout/").content.decode())
    assert "<h1>Log out</h1>" in main and '<button type="submit">Log out</button>' in main


def test_a_failed_log_in_says_why_in_the_form(client, alice):
    response = client.post("/accounts/login/", {"login": alice.email, "password": "wrong"})
    main = _words(_main(response.content.decode()))
    assert response.status_code == 200 and "not correct" in main


def test_log_in_and_log_out_messages_use_the_sites_words(client, alice, password):
    response = client.post(
        "/accounts/login/", {"login": alice.email, "password": password}, follow=True
    )
    assert f"You are logged in as {alice.email}" in _words(response.content.decode())
    response = client.post("/accounts/logout/", follow=True)
    assert "You have logged out." in response.content.decode()


# -- an anonymous visitor's code ----------------------------------------------------------------


def test_an_anonymous_visitor_who_submits_is_asked_to_sign_up_and_nothing_is_graded(
    client, exercises, quiet_graders
):
    code = "def on_payment_captured(event, ctx):\n    pass  # before signing up\n"
    response = client.post(PAGE + "submit/", {"code": code, "client_token": "a1"})
    assert response.status_code == 302
    assert response.url == f"{reverse('account_signup')}?next={PAGE.replace('/', '%2F')}"
    assert not Submission.objects.exists()
    page = client.get(response.url).content.decode()
    assert "Sign up (or log in) to have your code for" in page and "Your code is kept" in page
    assert "Code waiting for you in 1 exercise." in _words(page)
    # Back on the exercise, the code is in the editor.
    assert "pass  # before signing up" in client.get(PAGE).content.decode()


def test_signing_up_brings_the_code_back_into_the_editor_and_submitting_it_grades_it(
    client, exercises, quiet_graders
):
    code = "def on_payment_captured(event, ctx):\n    pass  # carried over\n"
    client.post(PAGE + "submit/", {"code": code, "client_token": "a1"})
    response = client.post(
        f"/accounts/signup/?next={PAGE}",
        {"email": "dora@example.com", "password1": PASSWORD, "password2": PASSWORD, "next": PAGE},
    )
    assert response.status_code == 302 and response.url == PAGE
    html = client.get(PAGE).content.decode()
    assert "pass  # carried over" in html and 'id="draft-note"' in html
    response = client.post(PAGE + "submit/", {"code": code, "client_token": "d1"})
    assert response.status_code == 302
    assert Submission.objects.get().code == code
    # Submitted: the editor now shows that submission, and the kept draft is gone.
    assert runs.SESSION_DRAFTS not in client.session or not client.session[runs.SESSION_DRAFTS]
    assert 'id="draft-note"' not in client.get(PAGE).content.decode()


def test_logging_in_brings_back_code_run_before(client, exercises, alice, password, quiet_graders):
    code = "def on_payment_captured(event, ctx):\n    pass  # ran before logging in\n"
    assert client.post(PAGE + "run/", {"code": code}).status_code == 302
    response = client.post(
        "/accounts/login/", {"login": alice.email, "password": password, "next": PAGE}
    )
    assert response.status_code == 302 and response.url == PAGE
    html = client.get(PAGE).content.decode()
    assert "pass  # ran before logging in" in html
    assert "The editor holds the code you last ran or tried to submit" in html


def test_an_anonymous_visitor_with_no_code_is_asked_to_sign_up_and_promised_nothing(
    client, exercises, quiet_graders
):
    response = client.post(PAGE + "submit/", {"code": "  ", "client_token": "a1"}, follow=True)
    html = response.content.decode()
    assert "Sign up (or log in) to have your code for" in html and "kept:" not in html
    assert not Submission.objects.exists()


def test_code_too_big_to_keep_says_so(client, exercises, quiet_graders):
    code = "x = 1\n" * 12000
    response = client.post(PAGE + "submit/", {"code": code, "client_token": "a1"}, follow=True)
    assert "Your code could not be kept: Your code is" in response.content.decode()
    assert runs.draft(_session_request(client), _exercise()) is None


def _exercise():
    from exercises.models import Exercise

    return Exercise.objects.get(slug="idempotent-consumer")


def _session_request(client):
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.session = client.session
    return request


def test_hints_still_need_an_account(client, exercises):
    assert "Log in to reveal hints" in client.get(PAGE).content.decode()

"""Pages a visitor hits most cost a pinned number of database queries.

Counted are the statements that read or write rows; transaction control (BEGIN, COMMIT,
SAVEPOINT) is not. Run outside a test transaction (``transaction=True``) so what is counted is
what production sends.
"""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench.load import answer_fields

pytestmark = pytest.mark.django_db(transaction=True)


CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def _data_queries(ctx) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(CONTROL)]


@pytest.fixture
def loaded():
    call_command("load_content", verbosity=0)


def _open_test(client) -> tuple[str, dict]:
    client.get("/quick-test/")
    html = client.post("/quick-test/new/", {}, follow=True).content.decode()
    url = re.search(r'action="(/quick-test/\d+/answer/)"', html).group(1)
    return url, answer_fields(html)


def test_a_quick_test_answer_costs_at_most_four_queries(client, loaded):
    url, fields = _open_test(client)
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(url, fields, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    queries = _data_queries(ctx)
    # The attempt (locked), the session that owns it, its answers, the new answer.
    assert len(queries) <= 4, "\n".join(queries)
    assert any(q.startswith("INSERT") for q in queries)


def test_the_next_answers_cost_no_more(client, loaded):
    url, fields = _open_test(client)
    client.post(url, fields, HTTP_HX_REQUEST="true")
    page = client.get(url.replace("answer/", "")).content.decode()
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(url, answer_fields(page), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert len(_data_queries(ctx)) <= 4, "\n".join(_data_queries(ctx))


def test_an_instructor_edit_reaches_the_next_answer(client, loaded):
    """The bank is cached: a question saved after a test started is what the next answer sees."""
    from lessons.models import Question, question_bank

    url, fields = _open_test(client)
    question = Question.objects.get(key=fields["question"])
    question.explanation = "Edited by an instructor just now."
    question.save()
    assert question_bank()[question.key].explanation == "Edited by an instructor just now."
    response = client.post(url, fields)
    assert response.status_code in (200, 302)


def test_a_lesson_page_costs_an_anonymous_reader_at_most_three_queries(client, loaded):
    url = "/lessons/sagas-and-choreography/"
    client.get(url)  # the first reader renders the parts that are the same for everyone
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    queries = _data_queries(ctx)
    # The lesson, the visitor's session, and the session saved with the visit.
    assert len(queries) <= 3, "\n".join(queries)


def test_a_first_time_reader_costs_no_more(client, loaded):
    client.get("/lessons/idempotency-keys/")
    client.cookies.clear()
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/lessons/idempotency-keys/")
    assert response.status_code == 200
    assert len(_data_queries(ctx)) <= 3, "\n".join(_data_queries(ctx))


# -- what the cheap pages must still get right ------------------------------------------------

LESSON = "/lessons/sagas-and-choreography/"


def _token_in(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def test_each_anonymous_reader_gets_a_token_that_works_for_their_own_cookie(loaded):
    from django.test import Client

    first, second = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    pages = [reader.get(LESSON).content.decode() for reader in (first, second, first)]
    tokens = [_token_in(page) for page in pages]
    assert len(set(tokens)) == 3  # masked afresh for every response
    assert all(f'"X-CSRFToken": "{token}"' in page for token, page in zip(tokens, pages))
    assert "csrf-stand-in" not in "".join(pages)
    response = second.post(f"{LESSON}complete/", {"done": "1", "csrfmiddlewaretoken": tokens[1]})
    assert response.status_code == 302


def test_a_reader_who_completed_the_lesson_does_not_complete_it_for_the_next(client, loaded):
    from django.test import Client

    client.get(LESSON)
    client.post(f"{LESSON}complete/", {"done": "1"})
    assert "Mark as not completed" in client.get(LESSON).content.decode()
    assert "Mark lesson complete" in Client().get(LESSON).content.decode()


def test_a_changed_lesson_shows_at_once(client, loaded):
    from lessons.models import Lesson

    client.get(LESSON)
    lesson = Lesson.objects.get(slug="sagas-and-choreography")
    lesson.title = "Sagas, retitled just now"
    lesson.save()
    assert "Sagas, retitled just now" in client.get(LESSON).content.decode()


def test_a_signed_in_reader_sees_their_own_account_on_the_lesson_page(client, alice_client, loaded):
    client.get(LESSON)
    html = alice_client.get(LESSON).content.decode()
    assert "alice@example.com" in html and "Log out" in html


def test_the_dashboard_costs_a_signed_in_learner_at_most_ten_queries(alice_client, alice, loaded):
    """Whatever the learner has done: one row per exercise tried does not add a query."""
    from django.utils import timezone

    from exercises.models import Exercise, HintUse, Submission
    from lessons.models import Lesson, LessonProgress

    for exercise in Exercise.objects.published()[:3]:
        for status in ("failed", "passed", "passed"):
            Submission.objects.create(
                user=alice,
                exercise=exercise,
                version=exercise.published_version,
                code="x = 1\n",
                client_token=f"{exercise.slug}-{status}-{timezone.now().timestamp()}",
                status=status,
            )
        HintUse.objects.create(user=alice, exercise=exercise, revealed=1)
    for lesson in Lesson.objects.all()[:2]:
        LessonProgress.objects.create(user=alice, lesson=lesson, completed_at=timezone.now())
    _open_test(alice_client)
    with CaptureQueriesContext(connection) as ctx:
        response = alice_client.get("/dashboard/")
    assert response.status_code == 200
    queries = _data_queries(ctx)
    # Session, user, lessons, exercises, progress, submissions (statistics and the recent list),
    # hints, Quick Test attempts and their answers, and the Teach link's permission check.
    assert len(queries) <= 10, "\n".join(queries)
    html = response.content.decode()
    assert "3 / " in html and "Recent submissions" in html
    # Each exercise: 3 attempts, passed at the 2nd, 1 hint.
    assert len(re.findall(r"<td>3</td>\s*<td>[^<]+</td>\s*<td>2</td><td>1</td>", html)) == 3


def test_the_teach_link_shows_for_instructors_and_superusers_only(client, alice, bob, loaded):
    """The link's one-query check answers as user.has_perm() does."""
    from django.contrib.auth.models import Permission

    from teach import authoring

    def shows_teach(user) -> bool:
        client.force_login(user)
        return 'href="/teach/"' in client.get("/dashboard/").content.decode()

    assert not shows_teach(alice)
    authoring.make_instructor(bob)
    assert shows_teach(bob)
    alice.user_permissions.add(Permission.objects.get(codename="change_exercise"))
    assert shows_teach(alice)
    alice.user_permissions.clear()
    alice.is_superuser = True
    alice.save()
    assert shows_teach(alice)
    authoring.remove_instructor(bob)
    assert not shows_teach(bob)
    client.logout()
    assert 'href="/teach/"' not in client.get("/dashboard/").content.decode()

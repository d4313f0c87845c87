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

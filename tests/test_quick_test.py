"""The Quick Test: drawing a test, answering one question at a time, feedback,
the result page, and refusing every tampered or stale request."""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from courseapp.lib.modules import TOPICS
from lessons.models import Lesson, Question, QuizAnswer, QuizAttempt
from quicktest import attempts as quiz

TYPES = [value for value, _ in Question.TYPES]
HTMX = {"HTTP_HX_REQUEST": "true"}


def make_bank() -> None:
    """One lesson per topic and one question of every type per topic (45 in all)."""
    for order, topic in enumerate(TOPICS, start=1):
        lesson = Lesson.objects.create(
            slug=f"{topic}-lesson",
            title=f"All about {topic}",
            module=0,
            order=order,
            summary="s",
            body="b",
            html="<p>b</p>",
            topics=[topic],
            toc=[{"id": "basics", "text": "The basics"}, {"id": "details", "text": "The details"}],
        )
        common = {"topic": topic, "lesson": lesson, "anchor": "details"}
        Question.objects.create(
            key=f"{topic}-single",
            type="single",
            prompt=f"Pick one about {topic}",
            choices=["Alpha", "Beta", "Gamma"],
            answer=1,
            explanation=f"Beta is right for {topic}: secret-explanation-single",
            **common,
        )
        Question.objects.create(
            key=f"{topic}-multiple",
            type="multiple",
            prompt=f"Pick several about {topic}",
            choices=["One", "Two", "Three", "Four"],
            answer=[0, 2],
            explanation="One and Three: secret-explanation-multiple",
            **common,
        )
        Question.objects.create(
            key=f"{topic}-truefalse",
            type="truefalse",
            prompt=f"True about {topic}?",
            answer=False,
            explanation="It is false: secret-explanation-truefalse",
            **common,
        )
        Question.objects.create(
            key=f"{topic}-ordering",
            type="ordering",
            prompt=f"Order the {topic} steps",
            items=["First step", "Second step", "Third step", "Fourth step"],
            explanation="First to fourth: secret-explanation-ordering",
            **common,
        )
        Question.objects.create(
            key=f"{topic}-spotbug",
            type="spotbug",
            prompt=f"Spot the {topic} bug",
            code="def handle(msg):\n    charge(msg)\n    ack(msg)",
            choices=["Line 1", "Line 2: no dedup", "Line 3"],
            answer=1,
            explanation="Charging twice: secret-explanation-spotbug",
            **common,
        )


def answer_data(attempt: QuizAttempt, question: Question, right: bool = True) -> dict:
    data = {"question": question.key}
    if question.type in ("single", "spotbug"):
        data["choice"] = str(
            question.answer if right else (question.answer + 1) % len(question.choices)
        )
    elif question.type == "truefalse":
        data["choice"] = (
            ("true" if question.answer else "false")
            if right
            else ("false" if question.answer else "true")
        )
    elif question.type == "multiple":
        data["choice"] = [str(i) for i in question.answer] if right else [str(question.answer[0])]
    else:
        layout = attempt.layouts[question.key]
        positions = [index + 1 for index in layout]
        if not right:
            positions = positions[::-1]
        data.update(
            {f"position-{shown}": str(position) for shown, position in enumerate(positions)}
        )
    return data


def current(attempt: QuizAttempt) -> Question:
    return QuizAttempt.objects.get(pk=attempt.pk).current_question()


@pytest.fixture
def bank(db):
    make_bank()


@pytest.fixture
def attempt(client, bank) -> QuizAttempt:
    client.post(reverse("quiz:new"))
    return QuizAttempt.objects.get()


def answer(client, attempt, right=True, question=None, **extra):
    question = question or current(attempt)
    return client.post(
        reverse("quiz:answer", args=[attempt.pk]), answer_data(attempt, question, right), **extra
    )


def finish(client, attempt, right=True):
    while current(attempt):
        assert answer(client, attempt, right).status_code == 302


# The start page and the draw ------------------------------------------------------------------


class TestStartPage:
    def test_it_explains_the_test_and_offers_a_start_button(self, client, bank):
        response = client.get(reverse("quiz:start"))
        assert response.status_code == 200
        html = response.content.decode()
        assert "10 questions" in html and "No account needed" in html
        assert "exactly the right options" in html
        assert re.search(r'<form method="post" action="/quick-test/new/">', html)
        assert "Start the test" in html

    def test_it_says_so_when_the_bank_is_empty(self, client, db):
        assert "question bank is empty" in client.get(reverse("quiz:start")).content.decode()
        assert client.post(reverse("quiz:new")).status_code == 503

    def test_starting_needs_a_post(self, client, bank):
        assert client.get(reverse("quiz:new")).status_code == 405
        assert not QuizAttempt.objects.exists()

    def test_it_offers_to_continue_an_unfinished_test(self, client, attempt):
        html = client.get(reverse("quiz:start")).content.decode()
        assert "Continue your test" in html and reverse("quiz:attempt", args=[attempt.pk]) in html

    def test_it_says_how_far_the_unfinished_test_got(self, client, attempt):
        answer(client, attempt)
        answer(client, attempt)
        html = client.get(reverse("quiz:start")).content.decode()
        assert "(2 of 10 answered)" in html

    def test_it_offers_the_newest_unfinished_test_and_never_a_finished_or_expired_one(
        self, client, bank
    ):
        client.post(reverse("quiz:new"))
        older = QuizAttempt.objects.get()
        client.post(reverse("quiz:new"))
        newer = QuizAttempt.objects.exclude(pk=older.pk).get()
        html = client.get(reverse("quiz:start")).content.decode()
        assert reverse("quiz:attempt", args=[newer.pk]) in html
        finish(client, newer)
        html = client.get(reverse("quiz:start")).content.decode()
        assert reverse("quiz:attempt", args=[older.pk]) in html
        QuizAttempt.objects.filter(pk=older.pk).update(
            created_at=timezone.now() - timedelta(hours=7)
        )
        assert "Continue your test" not in client.get(reverse("quiz:start")).content.decode()

    def test_it_offers_no_one_elses_test(self, attempt, alice):
        from django.test import Client

        other, signed_in = Client(), Client()
        signed_in.force_login(alice)
        for visitor in (other, signed_in):
            assert "Continue your test" not in visitor.get(reverse("quiz:start")).content.decode()

    def test_a_question_taken_out_of_the_bank_is_never_drawn_again(self, client, bank):
        for question in Question.objects.filter(topic="sagas"):
            question.active = False
            question.save()  # as load_content does when a question leaves the content files
        for _ in range(5):
            client.post(reverse("quiz:new"))
        drawn = {key for a in QuizAttempt.objects.all() for key in a.question_keys}
        assert drawn and not any(key.startswith("sagas-") for key in drawn)


class TestDraw:
    def test_it_draws_ten_questions_balanced_across_topics_with_a_mix_of_types(self, bank):
        seen: set[str] = set()
        for seed in range(30):
            drawn = quiz.draw(Question.objects.active(), random.Random(seed))
            assert len(drawn) == 10 and len({q.key for q in drawn}) == 10
            per_topic = Counter(q.topic for q in drawn)
            # one question per topic before any topic gets a second; with more topics than
            # questions, each test covers ten of them and the shuffle varies which
            assert len(per_topic) == min(len(TOPICS), 10) and max(per_topic.values()) <= 2
            seen |= set(per_topic)
            assert len({q.type for q in drawn}) >= 4
            assert max(Counter(q.type for q in drawn).values()) <= 3
        assert seen == set(TOPICS)

    def test_it_draws_only_active_questions(self, bank):
        Question.objects.filter(topic="sagas").update(active=False)
        drawn = quiz.draw(Question.objects.active(), random.Random(1))
        assert "sagas" not in {q.topic for q in drawn} and len(drawn) == 10

    def test_it_draws_what_there_is_from_a_small_bank(self, bank):
        Question.objects.exclude(topic__in=["sagas", "outbox"]).update(active=False)
        assert len(quiz.draw(Question.objects.active(), random.Random(1))) == 4

    def test_ordering_items_are_never_shown_in_the_answer_order(self):
        for seed in range(50):
            layout = quiz.shuffled_layout(4, random.Random(seed))
            assert sorted(layout) == [0, 1, 2, 3] and layout != [0, 1, 2, 3]

    def test_start_creates_an_anonymous_attempt_remembered_by_the_session(self, client, bank):
        response = client.post(reverse("quiz:new"))
        attempt = QuizAttempt.objects.get()
        assert response.status_code == 302 and response.url == reverse(
            "quiz:attempt", args=[attempt.pk]
        )
        assert attempt.user is None and attempt.session_key == client.session.session_key
        assert client.session[quiz.SESSION_KEY] == [attempt.pk]
        assert len(attempt.question_keys) == 10
        ordering = [key for key in attempt.question_keys if key.endswith("-ordering")]
        assert set(attempt.layouts) == set(ordering)

    def test_a_signed_in_learner_owns_the_attempt(self, alice_client, alice, bank):
        alice_client.post(reverse("quiz:new"))
        assert QuizAttempt.objects.get().user == alice


# One question at a time ------------------------------------------------------------------------


class TestQuestionPage:
    def test_it_shows_the_first_question_with_progress_and_a_labelled_form(self, client, attempt):
        question = current(attempt)
        html = client.get(reverse("quiz:attempt", args=[attempt.pk])).content.decode()
        assert "Question 1 of 10" in html
        assert "<fieldset>" in html and "<legend" in html and question.prompt in html
        assert (
            'hx-post="/quick-test/%d/answer/"' % attempt.pk in html
            and 'hx-target="#quiz-region"' in html
        )
        assert "<html" in html

    def test_htmx_gets_only_the_question_partial(self, client, attempt):
        html = client.get(reverse("quiz:attempt", args=[attempt.pk]), **HTMX).content.decode()
        assert "Question 1 of 10" in html and "<html" not in html and "<form" in html

    @pytest.mark.parametrize("kind", TYPES)
    def test_no_answer_or_explanation_reaches_the_page_before_answering(
        self, client, attempt, kind
    ):
        question = Question.objects.get(key=f"sagas-{kind}")
        attempt.question_keys = [question.key] + [
            k for k in attempt.question_keys if k != question.key
        ][:9]
        attempt.layouts = {**attempt.layouts, question.key: [2, 0, 3, 1]}
        attempt.save()
        for extra in ({}, HTMX):
            html = client.get(reverse("quiz:attempt", args=[attempt.pk]), **extra).content.decode()
            assert question.prompt in html
            assert "secret-explanation" not in html
            assert question.explanation not in html
            for marker in (
                "checked",
                "data-answer",
                "data-correct",
                "correct",
                "Right!",
                "Not quite",
            ):
                assert marker not in html, marker

    def test_ordering_items_show_in_the_attempts_shuffled_order_with_a_select_each(
        self, client, attempt
    ):
        question = Question.objects.get(key="outbox-ordering")
        attempt.question_keys = [question.key] + attempt.question_keys[1:]
        attempt.layouts = {question.key: [2, 0, 3, 1]}
        attempt.save()
        html = client.get(reverse("quiz:attempt", args=[attempt.pk])).content.decode()
        positions = [
            html.index(item) for item in ("Third step", "First step", "Fourth step", "Second step")
        ]
        assert positions == sorted(positions)
        for shown in range(4):
            assert f'<label for="position-{shown}">' in html and f'name="position-{shown}"' in html

    def test_spot_the_bug_shows_the_code_with_line_numbers(self, client, attempt):
        question = Question.objects.get(key="retries-spotbug")
        attempt.question_keys = [question.key] + attempt.question_keys[1:]
        attempt.save()
        html = client.get(reverse("quiz:attempt", args=[attempt.pk])).content.decode()
        code = re.search(r"<pre[^>]*><code>(.*?)</code></pre>", html, re.S).group(1)
        assert re.search(r'<span class="ln"> 2</span>\s+charge\(msg\)', code)
        assert 'type="radio" name="choice" value="1"' in html


class TestAnswering:
    def test_htmx_answer_returns_the_feedback_partial(self, client, attempt):
        question = current(attempt)
        response = answer(client, attempt, right=True, **HTMX)
        html = response.content.decode()
        assert response.status_code == 200 and "<html" not in html
        assert "Right!" in html and question.explanation in html
        assert f'href="{question.lesson_url()}"' in html and "The details" in html
        assert 'hx-get="/quick-test/%d/"' % attempt.pk in html and "Next question" in html
        assert QuizAnswer.objects.get().score == 1.0

    def test_a_wrong_answer_shows_the_correct_answer_and_the_explanation(self, client, attempt):
        question = current(attempt)
        html = answer(client, attempt, right=False, **HTMX).content.decode()
        assert (
            "Not quite." in html and "The correct answer" in html and question.explanation in html
        )
        for text in question.correct_answer():
            assert text in html
        assert QuizAnswer.objects.get().score == 0.0

    def test_a_plain_post_redirects_to_the_attempt_page_showing_the_feedback(self, client, attempt):
        question = current(attempt)
        response = answer(client, attempt)
        assert response.status_code == 302
        assert response.url == reverse("quiz:attempt", args=[attempt.pk]) + "?answered=1"
        html = client.get(response.url).content.decode()
        assert "<html" in html and "Right!" in html and question.explanation in html
        html = client.get(reverse("quiz:attempt", args=[attempt.pk])).content.decode()
        assert "Question 2 of 10" in html

    def test_the_last_answer_finishes_the_attempt_and_links_to_the_result(self, client, attempt):
        for _ in range(9):
            answer(client, attempt)
        html = answer(client, attempt, **HTMX).content.decode()
        assert "See your result" in html and reverse("quiz:result", args=[attempt.pk]) in html
        attempt.refresh_from_db()
        assert attempt.is_finished
        assert client.get(reverse("quiz:attempt", args=[attempt.pk])).url == reverse(
            "quiz:result", args=[attempt.pk]
        )


class TestResult:
    def test_it_shows_the_score_the_topics_and_the_lessons_to_review(self, client, attempt):
        for index in range(10):
            answer(client, attempt, right=index % 2 == 0)
        attempt.refresh_from_db()
        html = client.get(reverse("quiz:result", args=[attempt.pk])).content.decode()
        assert "5 / 10" in html
        for topic, (points, total) in attempt.topic_scores().items():
            assert re.search(
                rf"<th scope=\"row\">{re.escape(TOPICS[topic])}</th><td>{points:g} / {total}</td>",
                html,
            )
        missed_topics = {
            t for t, (points, total) in attempt.topic_scores().items() if points < total
        }
        for topic in missed_topics:
            assert f'href="/lessons/{topic}-lesson/"' in html
        for topic in set(TOPICS) - missed_topics:
            assert f'href="/lessons/{topic}-lesson/"' not in html
        assert "Retake the test" in html

    def test_a_perfect_score_has_nothing_to_review(self, client, attempt):
        finish(client, attempt)
        html = client.get(reverse("quiz:result", args=[attempt.pk])).content.decode()
        assert "10 / 10" in html and "Nothing to review" in html

    def test_retake_draws_a_fresh_attempt(self, client, attempt):
        finish(client, attempt)
        response = client.post(reverse("quiz:new"))
        fresh = QuizAttempt.objects.exclude(pk=attempt.pk).get()
        assert response.url == reverse("quiz:attempt", args=[fresh.pk])
        assert fresh.answers.count() == 0 and client.session[quiz.SESSION_KEY] == [
            fresh.pk,
            attempt.pk,
        ]

    def test_an_unfinished_attempt_has_no_result_yet(self, client, attempt):
        response = client.get(reverse("quiz:result", args=[attempt.pk]))
        assert response.url == reverse("quiz:attempt", args=[attempt.pk])

    def test_score_and_topic_scores_for_the_dashboard(self, client, attempt):
        answer(client, attempt, right=True)
        answer(client, attempt, right=False)
        first, second = (Question.objects.get(key=key) for key in attempt.question_keys[:2])
        attempt.refresh_from_db()
        assert attempt.score() == (1.0, 10)
        scores = attempt.topic_scores()
        assert sum(total for _, total in scores.values()) == 10
        assert scores[first.topic][0] == 1.0 and (
            first.topic == second.topic or scores[second.topic][0] == 0
        )
        assert list(scores) == [topic for topic in TOPICS if topic in scores]


# Scoring rules ----------------------------------------------------------------------------------


class TestScoring:
    @pytest.fixture
    def q(self, bank):
        return lambda kind: Question.objects.get(key=f"sagas-{kind}")

    def test_single_choice_scores_one_for_the_right_choice_only(self, q):
        assert quiz.score(q("single"), 1) == 1.0 and quiz.score(q("single"), 0) == 0.0

    def test_spot_the_bug_scores_one_for_the_right_line_only(self, q):
        assert quiz.score(q("spotbug"), 1) == 1.0 and quiz.score(q("spotbug"), 2) == 0.0

    def test_true_false_scores_one_for_the_right_value_only(self, q):
        assert quiz.score(q("truefalse"), False) == 1.0 and quiz.score(q("truefalse"), True) == 0.0

    def test_multiple_select_is_all_or_nothing(self, q):
        question = q("multiple")  # answer [0, 2]
        assert quiz.score(question, [0, 2]) == 1.0
        assert quiz.score(question, [2, 0]) == 1.0
        assert quiz.score(question, [0]) == 0.0  # a right option missing
        assert quiz.score(question, [0, 1, 2]) == 0.0  # a wrong option added
        assert quiz.score(question, [0, 1, 2, 3]) == 0.0  # ticking everything

    def test_ordering_scores_only_the_whole_order(self, q):
        question = q("ordering")
        assert quiz.score(question, [0, 1, 2, 3]) == 1.0
        assert quiz.score(question, [0, 1, 3, 2]) == 0.0
        assert quiz.score(question, [3, 2, 1, 0]) == 0.0

    def test_ordering_positions_are_read_through_the_shuffled_layout(self, client, attempt):
        question = Question.objects.get(key="design-ordering")
        attempt.question_keys = [question.key] + attempt.question_keys[1:]
        attempt.layouts = {question.key: [2, 0, 3, 1]}
        attempt.save()
        # Shown: Third, First, Fourth, Second -> positions 3, 1, 4, 2 is the right order.
        data = {
            "question": question.key,
            "position-0": "3",
            "position-1": "1",
            "position-2": "4",
            "position-3": "2",
        }
        client.post(reverse("quiz:answer", args=[attempt.pk]), data)
        saved = QuizAnswer.objects.get()
        assert saved.given == [0, 1, 2, 3] and saved.score == 1.0

    @pytest.mark.parametrize("kind", TYPES)
    def test_every_type_scores_through_the_view(self, client, attempt, kind):
        for right, expected in ((True, 1.0), (False, 0.0)):
            QuizAnswer.objects.all().delete()
            question = Question.objects.get(key=f"consumers-{kind}")
            attempt.question_keys = [question.key] + [
                k for k in attempt.question_keys if k != question.key
            ][:9]
            attempt.layouts = {question.key: [1, 3, 0, 2]}
            attempt.save()
            assert answer(client, attempt, right=right, question=question).status_code == 302
            assert QuizAnswer.objects.get().score == expected


# Tampering and stale requests -------------------------------------------------------------------


def assert_refused(response, status, text):
    assert response.status_code == status
    assert text in response.content.decode()


class TestTampering:
    def test_a_replayed_answer_is_already_answered_and_changes_nothing(self, client, attempt):
        question = current(attempt)
        data = answer_data(attempt, question, right=False)
        url = reverse("quiz:answer", args=[attempt.pk])
        client.post(url, data)
        before = list(QuizAnswer.objects.values_list("pk", "given", "score"))
        assert_refused(client.post(url, data), 409, "already answered")
        assert_refused(
            client.post(url, answer_data(attempt, question, right=True)), 409, "already answered"
        )
        assert list(QuizAnswer.objects.values_list("pk", "given", "score")) == before

    def test_a_question_not_in_the_attempt_is_refused(self, client, attempt):
        outsider = (
            Question.objects.exclude(key__in=attempt.question_keys).filter(type="single").first()
        )
        response = answer(client, attempt, question=outsider)
        assert_refused(response, 400, "not part of this test")
        assert_refused(
            client.post(reverse("quiz:answer", args=[attempt.pk]), {"choice": "1"}),
            400,
            "not part of this test",
        )
        assert not QuizAnswer.objects.exists()

    def test_a_later_question_cannot_be_answered_out_of_turn(self, client, attempt):
        later = Question.objects.get(key=attempt.question_keys[3])
        assert_refused(answer(client, attempt, question=later), 409, "answer question 1 first")
        assert not QuizAnswer.objects.exists()

    def test_another_sessions_attempt_is_not_found(self, client, attempt, django_user_model):
        from django.test import Client

        stranger = Client()
        question = current(attempt)
        assert_refused(
            stranger.get(reverse("quiz:attempt", args=[attempt.pk])), 404, "no such test"
        )
        assert_refused(
            stranger.post(
                reverse("quiz:answer", args=[attempt.pk]), answer_data(attempt, question)
            ),
            404,
            "no such test",
        )
        assert stranger.get(reverse("quiz:result", args=[attempt.pk])).status_code == 404
        assert not QuizAnswer.objects.exists()

    def test_another_users_attempt_is_not_found(self, client, bank, alice, bob):
        client.force_login(alice)
        client.post(reverse("quiz:new"))
        attempt = QuizAttempt.objects.get()
        client.force_login(bob)
        assert client.get(reverse("quiz:attempt", args=[attempt.pk])).status_code == 404
        assert answer(client, attempt).status_code == 404
        assert not QuizAnswer.objects.exists()

    def test_non_numeric_and_unknown_attempt_ids_are_not_found(self, client, attempt):
        assert client.get("/quick-test/abc/").status_code == 404
        assert client.post("/quick-test/1x/answer/", {"question": "x"}).status_code == 404
        assert client.get(reverse("quiz:attempt", args=[attempt.pk + 100])).status_code == 404

    @pytest.mark.parametrize(
        "kind,data",
        [
            ("single", {"choice": "abc"}),
            ("single", {"choice": "3"}),
            ("single", {"choice": "-1"}),
            ("single", {"choice": ["0", "1"]}),
            ("single", {}),
            ("spotbug", {"choice": "99"}),
            ("truefalse", {"choice": "maybe"}),
            ("multiple", {"choice": ["0", "4"]}),
            ("multiple", {"choice": ["0", "0"]}),
            ("multiple", {}),
            ("ordering", {"position-0": "1", "position-1": "2", "position-2": "3"}),
            (
                "ordering",
                {
                    "position-0": "1",
                    "position-1": "2",
                    "position-2": "3",
                    "position-3": "4",
                    "position-4": "5",
                },
            ),
            (
                "ordering",
                {"position-0": "1", "position-1": "1", "position-2": "3", "position-3": "4"},
            ),
            (
                "ordering",
                {"position-0": "0", "position-1": "2", "position-2": "3", "position-3": "4"},
            ),
            (
                "ordering",
                {"position-0": "x", "position-1": "2", "position-2": "3", "position-3": "4"},
            ),
        ],
    )
    def test_malformed_answers_are_refused(self, client, attempt, kind, data):
        question = Question.objects.get(key=f"idempotency-{kind}")
        attempt.question_keys = [question.key] + [
            k for k in attempt.question_keys if k != question.key
        ][:9]
        attempt.layouts = {question.key: [1, 0, 3, 2]}
        attempt.save()
        response = client.post(
            reverse("quiz:answer", args=[attempt.pk]), {"question": question.key, **data}
        )
        assert response.status_code == 400 and 'class="notice error' in response.content.decode()
        assert not QuizAnswer.objects.exists()

    def test_an_expired_attempt_is_gone(self, client, attempt):
        QuizAttempt.objects.filter(pk=attempt.pk).update(
            created_at=timezone.now() - timedelta(hours=7)
        )
        assert_refused(answer(client, attempt), 410, "expired")
        assert_refused(client.get(reverse("quiz:attempt", args=[attempt.pk])), 410, "expired")
        assert not QuizAnswer.objects.exists()

    def test_a_finished_attempt_takes_no_more_answers(self, client, attempt):
        finish(client, attempt, right=False)
        scores = list(QuizAnswer.objects.values_list("score", flat=True))
        last = Question.objects.get(key=attempt.question_keys[-1])
        assert_refused(answer(client, attempt, question=last), 409, "finished")
        assert list(QuizAnswer.objects.values_list("score", flat=True)) == scores

    def test_htmx_refusals_carry_the_status_and_show_the_message_in_the_region(
        self, client, attempt
    ):
        question = current(attempt)
        answer(client, attempt)
        response = answer(client, attempt, question=question, **HTMX)
        assert response.status_code == 409 and not response.has_header("HX-Redirect")
        # The header lets the page's script swap this refusal (and no other 4xx) into the region.
        assert response["X-Quick-Test-Refusal"] == "409"
        html = response.content.decode()
        assert "<html" not in html and "already answered" in html
        # The message lives in the swapped region, not in a banner that outlives the question.
        html = client.get(reverse("quiz:attempt", args=[attempt.pk])).content.decode()
        assert "already answered" not in html and "Question 2 of 10" in html
        assert 'class="messages"' not in html

    def test_htmx_refusals_for_someone_elses_attempt_say_so_with_a_way_back_to_the_start(
        self, client, attempt
    ):
        from django.test import Client

        response = Client().post(
            reverse("quiz:answer", args=[attempt.pk]), {"question": "x"}, **HTMX
        )
        html = response.content.decode()
        assert response.status_code == 404 and not response.has_header("HX-Redirect")
        assert response["X-Quick-Test-Refusal"] == "404"
        assert "no such test" in html and f'href="{reverse("quiz:start")}"' in html
        assert "<html" not in html

    def test_answering_needs_a_post(self, client, attempt):
        assert client.get(reverse("quiz:answer", args=[attempt.pk])).status_code == 405


class TestAttemptsFor:
    def test_it_lists_the_sessions_attempts_for_an_anonymous_visitor(self, rf, client, attempt):
        request = rf.get("/")
        request.user = type("Anon", (), {"is_authenticated": False})()
        request.session = client.session
        assert [a.pk for a in quiz.attempts_for(request)] == [attempt.pk]

    def test_it_lists_a_learners_own_attempts_with_scores(self, rf, alice_client, alice, bob, bank):
        alice_client.post(reverse("quiz:new"))
        mine = QuizAttempt.objects.get()
        QuizAttempt.objects.create(user=bob, question_keys=mine.question_keys)
        finish(alice_client, mine)
        request = rf.get("/")
        request.user, request.session = alice, alice_client.session
        attempts = quiz.attempts_for(request)
        assert [a.pk for a in attempts] == [mine.pk]
        assert attempts[0].score() == (10.0, 10)
        assert sum(points for points, _ in attempts[0].topic_scores().values()) == 10.0


# Errors keep the learner's work and sit beside the question --------------------------------------


def put_first(attempt: QuizAttempt, *keys: str, layout=(1, 3, 0, 2)) -> None:
    """Make `keys` the first questions of the attempt (ordering ones in `layout`)."""
    attempt.question_keys = (
        list(keys) + [k for k in attempt.question_keys if k not in keys][: 10 - len(keys)]
    )
    attempt.layouts = {
        **attempt.layouts,
        **{key: list(layout) for key in keys if key.endswith("-ordering")},
    }
    attempt.save()


def post_answer(client, attempt, data, **extra):
    return client.post(reverse("quiz:answer", args=[attempt.pk]), data, **extra)


def selected_positions(html: str) -> dict[int, str | None]:
    """{shown item: the position its <select> shows as chosen, or None}."""
    kept = {}
    for shown, body in re.findall(r'<select id="position-(\d+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.findall(r'<option value="(\d*)" selected>', body)
        kept[int(shown)] = chosen[0] if chosen else None
    return kept


def question_form(html: str) -> str:
    return re.search(r'<form class="question".*?</form>', html, re.S).group(0)


ORDERING = "outbox-ordering"
DUPLICATE = {"position-0": "2", "position-1": "2", "position-2": "4", "position-3": "1"}


class TestAnswerErrors:
    @pytest.mark.parametrize("extra", [{}, HTMX], ids=["plain post", "htmx"])
    def test_an_ordering_error_keeps_every_position_and_shows_the_error_inside_the_form(
        self, client, attempt, extra
    ):
        put_first(attempt, ORDERING)
        response = post_answer(client, attempt, {"question": ORDERING, **DUPLICATE}, **extra)
        html = response.content.decode()
        assert response.status_code == 400 and not response.has_header("HX-Redirect")
        assert ("<html" in html) == (not extra)
        assert response.has_header("X-Quick-Test-Refusal") == bool(extra)
        form = question_form(html)
        assert "Two items were given position 2" in form
        assert re.search(r'<p class="notice error question-error" id="question-error"', form)
        assert "Question 1 of 10" in html
        assert selected_positions(html) == {0: "2", 1: "2", 2: "4", 3: "1"}
        # The two items that clash are marked, the others are not.
        for shown in range(4):
            marked = re.search(rf'<select id="position-{shown}"[^>]*aria-invalid="true"', html)
            assert bool(marked) == (shown in (0, 1)), shown
        assert not QuizAnswer.objects.exists()

    def test_the_error_is_gone_on_the_next_page_and_never_becomes_a_site_banner(
        self, client, attempt
    ):
        put_first(attempt, ORDERING)
        post_answer(client, attempt, {"question": ORDERING, **DUPLICATE}, **HTMX)
        for extra in ({}, HTMX):
            html = client.get(reverse("quiz:attempt", args=[attempt.pk]), **extra).content.decode()
            assert "Question 1 of 10" in html
            assert "position 2" not in html and "question-error" not in html
            assert 'class="messages"' not in html
            assert set(selected_positions(html).values()) == {None}
        # Fixing the order answers the question; the next question carries no error either.
        fixed = {"position-0": "2", "position-1": "4", "position-2": "1", "position-3": "3"}
        response = post_answer(client, attempt, {"question": ORDERING, **fixed}, **HTMX)
        assert response.status_code == 200 and "Right!" in response.content.decode()
        html = client.get(reverse("quiz:attempt", args=[attempt.pk]), **HTMX).content.decode()
        assert "Question 2 of 10" in html and "question-error" not in html

    def test_a_tampered_position_is_dropped_and_the_valid_ones_are_kept(self, client, attempt):
        put_first(attempt, ORDERING)
        data = {"position-0": "3", "position-1": "9", "position-2": "1", "position-3": "2"}
        html = post_answer(client, attempt, {"question": ORDERING, **data}).content.decode()
        assert "not one of the options" in question_form(html)
        assert selected_positions(html) == {0: "3", 1: None, 2: "1", 3: "2"}
        assert re.search(r'<select id="position-1"[^>]*aria-invalid="true"', html)
        assert not QuizAnswer.objects.exists()

    def test_an_extra_or_missing_position_keeps_the_positions_that_were_sent(self, client, attempt):
        put_first(attempt, ORDERING)
        extra_field = {**DUPLICATE, "position-1": "3", "position-9": "5"}
        html = post_answer(client, attempt, {"question": ORDERING, **extra_field}).content.decode()
        assert "Give a position to each of the 4 items" in question_form(html)
        assert selected_positions(html) == {0: "2", 1: "3", 2: "4", 3: "1"}
        missing = {"position-0": "2", "position-2": "4"}
        html = post_answer(client, attempt, {"question": ORDERING, **missing}).content.decode()
        assert selected_positions(html) == {0: "2", 1: None, 2: "4", 3: None}
        assert re.search(r'<select id="position-1"[^>]*aria-invalid="true"', html)
        assert not re.search(r'<select id="position-0"[^>]*aria-invalid="true"', html)

    def test_an_empty_multiple_select_answer_is_refused_beside_the_question(self, client, attempt):
        put_first(attempt, "sagas-multiple")
        response = post_answer(client, attempt, {"question": "sagas-multiple"}, **HTMX)
        assert response.status_code == 400
        form = question_form(response.content.decode())
        assert "Choose at least one option." in form and " checked" not in form

    def test_a_tampered_choice_keeps_the_valid_choices_ticked(self, client, attempt):
        put_first(attempt, "sagas-multiple")
        data = {"question": "sagas-multiple", "choice": ["2", "7"]}
        form = question_form(post_answer(client, attempt, data).content.decode())
        assert "not one of the options" in form
        assert re.findall(r'name="choice" value="(\d+)" checked', form) == ["2"]

    def test_a_single_choice_error_keeps_nothing_invalid(self, client, attempt):
        put_first(attempt, "sagas-single")
        form = question_form(
            post_answer(
                client, attempt, {"question": "sagas-single", "choice": "x"}
            ).content.decode()
        )
        assert "not one of the options" in form and " checked" not in form

    def test_a_replayed_answer_shows_the_first_answers_feedback_with_a_notice(
        self, client, attempt
    ):
        question = current(attempt)
        data = answer_data(attempt, question, right=False)
        post_answer(client, attempt, data)
        for extra in ({}, HTMX):
            response = post_answer(client, attempt, answer_data(attempt, question), **extra)
            html = response.content.decode()
            assert response.status_code == 409
            assert "your first answer stands" in html and "Not quite." in html
            assert question.explanation in html and "Next question" in html
        assert QuizAnswer.objects.get().score == 0.0

    def test_an_out_of_turn_answer_shows_the_current_question_with_a_notice(self, client, attempt):
        later = Question.objects.get(key=attempt.question_keys[3])
        response = post_answer(client, attempt, answer_data(attempt, later), **HTMX)
        html = response.content.decode()
        assert response.status_code == 409
        form = question_form(html)
        assert "answer question 1 first" in form and current(attempt).prompt in form

    def test_a_finished_test_points_to_its_result(self, client, attempt):
        finish(client, attempt)
        last = Question.objects.get(key=attempt.question_keys[-1])
        response = post_answer(client, attempt, answer_data(attempt, last), **HTMX)
        html = response.content.decode()
        assert response.status_code == 409 and "finished" in html
        assert f'href="{reverse("quiz:result", args=[attempt.pk])}"' in html

    def test_an_expired_test_offers_a_new_one_in_place(self, client, attempt):
        QuizAttempt.objects.filter(pk=attempt.pk).update(
            created_at=timezone.now() - timedelta(hours=7)
        )
        for response in (
            answer(client, attempt, **HTMX),
            client.get(reverse("quiz:attempt", args=[attempt.pk]), **HTMX),
        ):
            html = response.content.decode()
            assert response.status_code == 410 and "expired" in html
            assert "Start a new test" in html and 'action="/quick-test/new/"' in html

    @pytest.mark.parametrize("extra", [{}, HTMX], ids=["plain post", "htmx"])
    def test_an_unknown_attempt_id_says_so_and_links_to_the_start(self, client, attempt, extra):
        response = post_answer(client, QuizAttempt(pk=attempt.pk + 100), {"question": "x"}, **extra)
        html = response.content.decode()
        assert response.status_code == 404 and "no such test" in html
        assert 'href="/quick-test/"' in html


class TestReorderingMarkup:
    def test_the_ordering_list_is_marked_for_the_reordering_script_and_still_posts_selects(
        self, client, attempt
    ):
        put_first(attempt, ORDERING)
        html = client.get(reverse("quiz:attempt", args=[attempt.pk])).content.decode()
        assert re.search(r'<ol class="choices ordering" data-reorder', html)
        assert re.search(r'<script src="/static/js/quick-test[^"]*\.js" defer></script>', html)
        assert len(re.findall(r'<select id="position-\d"', html)) == 4
        assert set(selected_positions(html).values()) == {None}

    def test_the_script_and_its_stylesheet_are_served(self, client, db):
        from django.contrib.staticfiles import finders

        assert finders.find("js/quick-test.js") and finders.find("css/quick-test.css")


# The result page: review every question ---------------------------------------------------------


def result_html(client, attempt) -> str:
    return client.get(reverse("quiz:result", args=[attempt.pk])).content.decode()


def review_entry(html: str, number: int) -> str:
    """One question's entry in the result page's review list."""
    return re.search(
        rf'<li id="question-{number}".*?</li>\s*(?=<li id="question-|</ol>\s*</section>)',
        html,
        re.S,
    ).group(0)


class TestReview:
    def test_every_question_is_reviewed_with_the_answer_the_right_one_and_the_explanation(
        self, client, attempt
    ):
        for index in range(10):
            answer(client, attempt, right=index % 3 == 0)
        attempt.refresh_from_db()
        html = result_html(client, attempt)
        assert "Review every question" in html
        for number, question in enumerate(attempt.questions(), start=1):
            entry = review_entry(html, number)
            given = attempt.answers_by_key()[question.key]
            assert question.prompt in entry and question.explanation in entry
            assert ("Right" if given.score == 1 else "Not quite") in entry
            assert "Your answer" in entry and "The right answer" in entry
            for text in question.describe(given.given) + question.correct_answer():
                assert text in entry
            assert f'href="{question.lesson_url()}"' in entry

    def test_an_ordering_answer_is_reviewed_as_an_ordered_list_in_the_learners_order(
        self, client, attempt
    ):
        put_first(attempt, ORDERING, layout=(2, 0, 3, 1))
        # Shown: Third, First, Fourth, Second; the learner puts them in the shown order.
        data = {"position-0": "1", "position-1": "2", "position-2": "3", "position-3": "4"}
        post_answer(client, attempt, {"question": ORDERING, **data})
        finish(client, attempt)
        entry = review_entry(result_html(client, attempt), 1)
        yours, right = re.findall(r'<ol class="answer-list">(.*?)</ol>', entry, re.S)
        assert re.findall(r"<li>(.*?)</li>", yours) == [
            "Third step",
            "First step",
            "Fourth step",
            "Second step",
        ]
        assert re.findall(r"<li>(.*?)</li>", right) == [
            "First step",
            "Second step",
            "Third step",
            "Fourth step",
        ]

    def test_an_expired_tests_unanswered_questions_say_not_answered(self, client, attempt):
        answer(client, attempt)
        QuizAttempt.objects.filter(pk=attempt.pk).update(
            created_at=timezone.now() - timedelta(hours=7)
        )
        html = result_html(client, attempt)
        assert "Not answered" in review_entry(html, 2) and "Not answered" not in review_entry(
            html, 1
        )
        assert "1 / 10" in html

    def test_the_spot_the_bug_code_is_shown_in_the_review(self, client, attempt):
        put_first(attempt, "retries-spotbug")
        finish(client, attempt, right=False)
        entry = review_entry(result_html(client, attempt), 1)
        assert "charge(msg)" in entry and "Line 2: no dedup" in entry


class TestLessonsToReview:
    def review_list(self, html: str) -> str:
        return re.search(r'<ul class="review-list">.*?</ul>\s*</section>', html, re.S).group(0)

    def test_each_lesson_is_listed_once_with_each_section_once_and_the_missed_questions(
        self, client, attempt
    ):
        put_first(attempt, "sagas-single", "sagas-multiple", ORDERING)
        finish(client, attempt, right=False)
        listing = self.review_list(result_html(client, attempt))
        assert listing.count('href="/lessons/sagas-lesson/"') == 1
        assert listing.count('href="/lessons/sagas-lesson/#details"') == 1
        assert 'href="#question-1"' in listing and 'href="#question-2"' in listing
        assert listing.count('href="/lessons/outbox-lesson/"') == 1

    def test_only_the_lessons_the_missed_questions_point_to_are_listed(self, client, attempt):
        Lesson.objects.create(
            slug="more-sagas", title="More sagas", module=0, order=99, summary="s", body="b",
            html="<p>b</p>", topics=["sagas"], toc=[],
        )  # fmt: skip
        put_first(attempt, "sagas-single")
        answer(client, attempt, right=False)
        finish(client, attempt, right=True)
        listing = self.review_list(result_html(client, attempt))
        assert "All about sagas" in listing and "More sagas" not in listing

    def test_a_missed_question_without_a_lesson_points_to_the_lessons_of_its_topic(
        self, client, attempt
    ):
        Question.objects.filter(key="sagas-single").update(lesson=None, anchor="")
        put_first(attempt, "sagas-single")
        answer(client, attempt, right=False)
        finish(client, attempt, right=True)
        listing = self.review_list(result_html(client, attempt))
        assert listing.count('href="/lessons/sagas-lesson/"') == 1

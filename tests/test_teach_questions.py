"""Instructors edit Quick Test questions, checked like the loader checks files, with a preview and YAML."""

from __future__ import annotations

import pytest
import yaml

from lessons.models import Lesson, Question
from quicktest.loader import validate_question
from teach import authoring


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def instructor_client(client, bob, content):
    authoring.make_instructor(bob)
    client.force_login(bob)
    return client


SINGLE = "2pc-availability-product"


def _data(question, **overrides):
    from teach.forms import QuestionForm

    data = {k: v for k, v in QuestionForm.initial_from(question).items()}
    data.update(overrides)
    return data


def test_the_edit_page_shows_the_question_and_warns_about_load_content(instructor_client):
    html = instructor_client.get(f"/teach/questions/{SINGLE}/edit/").content.decode()
    assert "About 99.7%" in html and 'value="2"' in html  # the answer, counted from 1
    assert "overwritten by the next <code>load_content</code>" in html
    assert f"/teach/questions/{SINGLE}/yaml/" in html
    assert 'class="right-answer"' in html


def test_saving_updates_the_question(instructor_client):
    question = Question.objects.get(key=SINGLE)
    data = _data(question, prompt="How available is the order?", answer="4", save="1")
    response = instructor_client.post(f"/teach/questions/{SINGLE}/edit/", data)
    assert response.status_code == 302
    question.refresh_from_db()
    assert question.prompt == "How available is the order?" and question.answer == 3


def test_the_preview_shows_the_edit_with_the_answer_marked_without_saving(instructor_client):
    question = Question.objects.get(key=SINGLE)
    data = _data(question, choices="Alpha\nBeta\nGamma", answer="3")
    html = instructor_client.post(
        f"/teach/questions/{SINGLE}/preview/", data, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert (
        '<li class="right-answer">3. Gamma <span class="badge passed">correct</span></li>' in html
    )
    assert "<html" not in html
    question.refresh_from_db()
    assert "Gamma" not in question.choices


def test_an_answer_outside_the_choices_is_refused(instructor_client):
    question = Question.objects.get(key=SINGLE)
    response = instructor_client.post(
        f"/teach/questions/{SINGLE}/edit/", _data(question, answer="7", save="1")
    )
    assert "Use choice numbers from 1 to 4." in response.content.decode()
    question.refresh_from_db()
    assert question.answer == 1


def test_the_loaders_own_checks_apply(instructor_client):
    question = Question.objects.get(key=SINGLE)
    response = instructor_client.post(
        f"/teach/questions/{SINGLE}/edit/",
        _data(question, choices="Same\nSame\nOther", answer="1", save="1"),
    )
    assert "&#x27;choices&#x27; has a repeated entry" in response.content.decode()


def test_a_multiple_select_answer_takes_several_numbers(instructor_client):
    question = Question.objects.filter(type="multiple").first()
    instructor_client.post(
        f"/teach/questions/{question.key}/edit/", _data(question, answer="2, 1", save="1")
    )
    question.refresh_from_db()
    assert question.answer == [0, 1]


def test_a_true_or_false_answer_is_true_or_false(instructor_client):
    question = Question.objects.filter(type="truefalse").first()
    response = instructor_client.post(
        f"/teach/questions/{question.key}/edit/", _data(question, answer="maybe", save="1")
    )
    assert "Write true or false." in response.content.decode()


def test_an_ordering_question_edits_its_items(instructor_client):
    question = Question.objects.filter(type="ordering").first()
    items = "\n".join(reversed(question.items))
    instructor_client.post(
        f"/teach/questions/{question.key}/edit/", _data(question, items=items, save="1")
    )
    question.refresh_from_db()
    assert "\n".join(question.items) == items


def test_the_yaml_download_is_what_the_loader_reads(instructor_client):
    question = Question.objects.get(key=SINGLE)
    instructor_client.post(
        f"/teach/questions/{SINGLE}/edit/", _data(question, prompt="Edited prompt", save="1")
    )
    response = instructor_client.get(f"/teach/questions/{SINGLE}/yaml/")
    assert response["Content-Disposition"] == f'attachment; filename="{SINGLE}.yaml"'
    [raw] = yaml.safe_load(response.content)
    lessons = {lesson.slug: lesson for lesson in Lesson.objects.all()}
    from pathlib import Path

    row = validate_question(Path(f"{question.topic}.yaml"), 1, raw, lessons)
    assert row["prompt"] == "Edited prompt" and row["answer"] == 1 and row["key"] == SINGLE


def test_question_text_is_escaped_in_the_preview(instructor_client):
    question = Question.objects.get(key=SINGLE)
    data = _data(
        question,
        prompt="<script>alert(1)</script>",
        choices="<img src=x onerror=alert(1)>\nB\nC\nD",
    )
    html = instructor_client.post(
        f"/teach/questions/{SINGLE}/preview/", data, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "<script>" not in html and "<img" not in html and "&lt;script&gt;" in html

"""Authored Markdown cannot inject script: not in the preview, the learner page or the teach pages."""

from __future__ import annotations

import re

import pytest

from exercises.content_loader import ExerciseSpec
from exercises.models import Exercise
from sandbox import scenarios
from teach import authoring

SCENARIO = scenarios.get("idempotent_consumer")
HOSTILE = """## Hello

<script>alert('script')</script>

<img src=x onerror=alert('img')>

[a link](javascript:alert('link'))

![an image](javascript:alert('image'))

<a href="javascript:alert('raw')" onclick="alert('click')">raw anchor</a>

<div onmouseover="alert('div')">hover</div>

<javascript:alert('autolink')> and [ref][r]

[r]: javascript:alert('reference')
"""


def assert_inert(html: str) -> None:
    # Script elements other than the site's own external files.
    assert not re.search(r"<script(?![^>]*\ssrc=)", html, re.I), "an inline <script> element"
    # Any tag carrying an event handler attribute.
    assert not re.search(r"<[a-z][^>]*\son[a-z]+\s*=", html, re.I), "an event-handler attribute"
    assert not re.search(r"<[a-z][^>]*\s(href|src)\s*=\s*[\"']?\s*javascript:", html, re.I), (
        "a javascript: URL"
    )


@pytest.mark.parametrize(
    "live",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '<a href="javascript:alert(1)">x</a>',
        "<p onclick='x()'>y</p>",
    ],
)
def test_the_checker_catches_live_markup(live):
    with pytest.raises(AssertionError):
        assert_inert(live)


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def instructor_client(client, bob):
    authoring.make_instructor(bob)
    client.force_login(bob)
    return client


@pytest.fixture
def hostile_exercise(bob):
    spec = ExerciseSpec(
        slug="hostile",
        title="Hostile <script>alert('title')</script>",
        module=2,
        order=1,
        summary="<img src=x onerror=alert('summary')>",
        scenario="idempotent_consumer",
        statement=HOSTILE,
        starter=SCENARIO.starter_source,
        solution=SCENARIO.reference_source,
        hints=["<script>alert('hint')</script>"],
        variants={
            "x": {
                "source": "print('</code><script>alert(1)</script>')\n",
                "expected": "confirmed_once",
            }
        },
    )
    exercise, version, _ = authoring.save_draft(spec, bob)
    Exercise.objects.filter(pk=exercise.pk).update(published_version=version)
    return exercise


def test_the_rendered_statement_keeps_the_text_but_not_the_script(hostile_exercise):
    html = hostile_exercise.latest_version().statement_html
    assert "Hello" in html and "raw anchor" in html and "hover" in html
    assert_inert(html)


def test_the_htmx_preview_is_inert(instructor_client):
    html = instructor_client.post(
        "/teach/preview/", {"statement": HOSTILE}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "raw anchor" in html
    assert_inert(html)


def test_the_no_javascript_preview_is_inert(instructor_client):
    html = instructor_client.post(
        "/teach/exercises/new/", {"statement": HOSTILE, "preview": "1"}
    ).content.decode()
    assert "raw anchor" in html
    assert_inert(html)


def test_the_learner_page_is_inert(alice_client, hostile_exercise):
    html = alice_client.get("/exercises/hostile/").content.decode()
    assert "raw anchor" in html
    assert_inert(html)
    assert_inert(alice_client.get("/exercises/").content.decode())


@pytest.mark.parametrize(
    "url",
    [
        "/teach/",
        "/teach/exercises/hostile/",
        "/teach/exercises/hostile/v1/",
        "/teach/exercises/hostile/edit/",
        "/teach/exercises/hostile/stats/",
    ],
)
def test_the_teach_pages_are_inert(instructor_client, hostile_exercise, url):
    html = instructor_client.get(url).content.decode()
    assert "Hostile" in html
    assert_inert(html)


def test_teach_pages_use_no_inline_styles(instructor_client, hostile_exercise):
    for url in [
        "/teach/",
        "/teach/exercises/new/",
        "/teach/exercises/hostile/v1/",
        "/teach/questions/",
    ]:
        html = instructor_client.get(url).content.decode()
        assert " style=" not in html and "<style" not in html, url

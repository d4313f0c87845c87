"""Every lesson renders, in path order, and every link in it resolves."""

import re

import pytest

from lessons.models import Lesson

pytestmark = pytest.mark.django_db


def test_lessons_follow_the_learning_path(client, content):
    slugs = list(Lesson.objects.values_list("slug", flat=True))
    assert slugs[0] == "why-distributed-transactions"
    assert (
        slugs.index("idempotency-keys")
        < slugs.index("transactional-outbox")
        < slugs.index("sagas-and-choreography")
        < slugs.index("two-phase-commit")
        < slugs.index("operating-sagas")
    )
    html = client.get("/lessons/").content.decode()
    assert all(f"/lessons/{slug}/" in html for slug in slugs)
    assert "assumes" in html  # who the course is for and what it assumes


def test_every_lesson_page_renders_with_toc_pager_and_self_check(client, content):
    for lesson in Lesson.objects.all():
        html = client.get(lesson.get_absolute_url()).content.decode()
        assert lesson.title in html
        assert 'aria-label="On this page"' in html
        assert "min read" in html
        for entry in lesson.toc:
            assert f'id="{entry["id"]}"' in html
        assert "Self-check" in html and "<details>" in html
        if lesson.next():
            assert lesson.next().get_absolute_url() in html


def test_every_internal_link_and_image_resolves(client, content):
    pages = {
        lesson.get_absolute_url(): client.get(lesson.get_absolute_url()).content.decode()
        for lesson in Lesson.objects.all()
    }
    checked = 0
    for url, html in pages.items():
        for target in set(
            re.findall(r'(?:href|src)="(/(?:lessons|exercises|static/lessons)/[^"]*)"', html)
        ):
            path, _, anchor = target.partition("#")
            response = client.get(path)
            assert response.status_code == 200, f"{url} links to {target}: {response.status_code}"
            if anchor:
                assert f'id="{anchor}"' in response.content.decode(), (
                    f"{url} links to missing anchor {target}"
                )
            checked += 1
    assert checked > 20


def test_lesson_html_is_sanitised(client, content):
    for lesson in Lesson.objects.all():
        assert (
            "<script" not in lesson.html
            and "onerror=" not in lesson.html
            and 'style="' not in lesson.html
        )


def test_unknown_lesson_is_404(client, content):
    assert client.get("/lessons/no-such-lesson/").status_code == 404


def test_every_lesson_embeds_a_playground(client, content):
    for lesson in Lesson.objects.all():
        assert lesson.playgrounds, lesson.slug
        html = client.get(lesson.get_absolute_url()).content.decode()
        assert f'id="playground-{lesson.playgrounds[0]}"' in html

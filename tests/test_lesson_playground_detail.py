"""A lesson page carries each playground's verdict and invariants; the timeline and trace of a
playground in its default state (most of the page's bytes) come when wanted: fetched by htmx when
the panel is scrolled into view, or, without JavaScript, on the page with that playground opened."""

from __future__ import annotations

import re

import pytest
from django.template.loader import render_to_string

from lessons import playground
from lessons.models import Lesson

pytestmark = pytest.mark.django_db

LESSON = "/lessons/sagas-and-choreography/"


def _deferred_detail(html: str, key: str) -> tuple[str, str]:
    """Where playground `key` defers its timeline and trace: (its hx-get address, its link)."""
    match = re.search(
        r'<div class="playground-detail" hx-get="([^"]+)"[^>]*>\s*<p><a href="([^"]+)"',
        html[html.index(f'id="playground-{key}-result"') :],
    )
    assert match, f"no deferred timeline and trace for {key}"
    return match.group(1).replace("&amp;", "&"), match.group(2)


def test_the_page_shows_each_verdict_and_defers_each_timeline(client, content):
    html = client.get(LESSON).content.decode()
    lesson = Lesson.objects.get(slug="sagas-and-choreography")
    for key in lesson.playgrounds:
        result = html[html.index(f'id="playground-{key}-result"') :]
        assert "Invariants" in result[:4000]
        _deferred_detail(html, key)
    assert "<svg" not in html and "trace-table" not in html


def test_the_fetched_part_is_the_timeline_and_trace_the_full_report_shows(client, content):
    html = client.get(LESSON).content.decode()
    fetch, link = _deferred_detail(html, "order-saga")
    part = client.get(fetch, HTTP_HX_REQUEST="true")
    assert part.status_code == 200
    detail = part.content.decode()
    assert "<html" not in detail and "<h4>Timeline</h4>" in detail and "<svg" in detail
    assert "trace-table" in detail and "Trace (" in detail
    # The same run as the page opened on this playground, where the report is whole.
    opened = client.get(link.split("#")[0]).content.decode()
    panel = opened[opened.index('id="playground-order-saga-result"') :]
    panel = panel[: panel.index("</section>")]
    svg = re.search(r"<svg.*?</svg>", detail, re.S).group(0)
    assert svg in panel and "playground-detail" not in panel


def test_without_javascript_the_link_opens_the_page_with_the_whole_report(client, content):
    html = client.get(LESSON).content.decode()
    _fetch, link = _deferred_detail(html, "late-payment")
    assert link.endswith("#playground-late-payment")
    opened = client.get(link.split("#")[0]).content.decode()
    assert "<html" in opened
    panel = opened[opened.index('id="playground-late-payment-result"') :]
    assert "<h4>Timeline</h4>" in panel[: panel.index("</section>")]
    # The other playground on the page still waits for its own.
    _deferred_detail(opened, "order-saga")


def test_a_run_shows_its_timeline_at_once(client, content):
    response = client.get(
        LESSON, {"playground": "order-saga", "run": "1", "outbox": "on"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert "<h4>Timeline</h4>" in html and "playground-detail" not in html


def test_the_part_of_an_unknown_playground_is_404(client, content):
    response = client.get(LESSON, {"playground": "nope", "part": "detail"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 404


def test_a_changed_lesson_fetches_the_changed_run(client, content):
    """The part is kept per lesson version: an edit that presets other toggles shows its run."""

    def fetched() -> str:
        return client.get(
            LESSON, {"playground": "order-saga", "part": "detail"}, HTTP_HX_REQUEST="true"
        ).content.decode()

    before = fetched()
    lesson = Lesson.objects.get(slug="sagas-and-choreography")
    lesson.body = lesson.body.replace(
        "::: playground order-saga\n", "::: playground order-saga outbox=off relay_crash=on\n"
    )
    lesson.save()
    toggles = playground.toggles_from({}, "order-saga", {"outbox": False, "relay_crash": True})
    report = playground.run("order-saga", toggles, playground.DEFAULT_SEED)
    expected = render_to_string("sandbox/_report_detail.html", {"report": report})
    after = fetched()
    assert after != before and after == expected

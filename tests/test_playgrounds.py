"""Lesson playgrounds: each toggle changes the verdict the way the lesson says."""

import pytest
from django.core.cache import cache

from lessons.models import Lesson

pytestmark = pytest.mark.django_db


def _broken(client, lesson, key, **toggles):
    params = {
        "playground": key,
        "run": "1",
        "seed": "1",
        **{name: "on" for name, on in toggles.items() if on},
    }
    response = client.get(f"/lessons/{lesson}/", params, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    return html


def _is_broken(html: str, title: str) -> bool:
    # Each invariant renders as: badge (held/broken) then its title.
    marker = html.find(f"<strong>{title}</strong>")
    assert marker != -1, f"invariant {title!r} not shown"
    return "broken</span>" in html[max(0, marker - 80) : marker]


def test_outbox_with_dedup_survives_a_relay_crash(client, content):
    html = _broken(
        client, "transactional-outbox", "order-saga", outbox=True, dedup=True, relay_crash=True
    )
    assert "Every invariant held." in html


def test_outbox_off_plus_relay_crash_loses_an_event(client, content):
    html = _broken(
        client, "transactional-outbox", "order-saga", outbox=False, dedup=True, relay_crash=True
    )
    assert _is_broken(html, "No lost event")


def test_dedup_off_plus_a_duplicate_double_charges(client, content):
    html = _broken(
        client,
        "sagas-and-choreography",
        "order-saga",
        outbox=True,
        dedup=False,
        duplicate_delivery=True,
    )
    assert _is_broken(html, "No double charge")


def test_missing_compensation_leaves_a_cancelled_booking_dirty(client, content):
    html = _broken(
        client,
        "orchestration",
        "travel-booking",
        compensate=False,
        idempotent_compensation=True,
        hotel_fails=True,
    )
    assert "An invariant broke." in html


def test_charge_without_idempotency_key_double_charges_on_a_lost_reply(client, content):
    assert "Every invariant held." in _broken(
        client, "idempotency-keys", "idempotent-charge", idempotency_key=True, reply_lost=True
    )
    assert _is_broken(
        _broken(
            client, "idempotency-keys", "idempotent-charge", idempotency_key=False, reply_lost=True
        ),
        "No double charge",
    )


def test_coordinator_crash_after_prepare_blocks_two_phase_commit(client, content):
    assert "Every invariant held." in _broken(client, "two-phase-commit", "two-phase-commit")
    assert "An invariant broke." in _broken(
        client, "two-phase-commit", "two-phase-commit", coordinator_crash=True
    )


def test_retries_without_backoff_jitter_or_cap_storm_the_service(client, content):
    calm = _broken(
        client, "retries-and-backoff", "retry-storm", backoff=True, jitter=True, cap=True
    )
    storm = _broken(client, "retries-and-backoff", "retry-storm")
    assert "Every invariant held." in calm and "An invariant broke." in storm
    assert "load-bars" in storm


def test_capturing_before_shipping_is_guaranteed_charges_without_shipment(client, content):
    assert "Every invariant held." in _broken(
        client, "design-procedure", "shipping-down", authorize_first=True, long_outage=True
    )
    assert "An invariant broke." in _broken(
        client, "design-procedure", "shipping-down", long_outage=True
    )


def test_without_a_dead_letter_queue_a_poison_message_blocks_the_queue(client, content):
    assert "Every invariant held." in _broken(
        client, "operating-sagas", "poison-message", dlq=True, poison=True
    )
    assert "An invariant broke." in _broken(
        client, "operating-sagas", "poison-message", poison=True
    )


def test_htmx_request_gets_only_the_result_partial(client, content):
    html = _broken(client, "transactional-outbox", "order-saga", outbox=True)
    assert "<html" not in html and "Invariants" in html


def test_playground_works_without_javascript_as_a_plain_get(client, content):
    response = client.get(
        "/lessons/transactional-outbox/",
        {"playground": "order-saga", "run": "1", "dedup": "on", "relay_crash": "on"},
    )
    html = response.content.decode()
    assert "<html" in html and "An invariant broke." in html


def test_every_lesson_playground_runs_with_its_defaults(client, content):
    for lesson in Lesson.objects.all():
        html = client.get(lesson.get_absolute_url()).content.decode()
        assert "Run the simulation" in html and "Invariants" in html, lesson.slug


def test_unknown_playground_is_404(client, content):
    assert client.get("/lessons/transactional-outbox/", {"playground": "nope"}).status_code == 404


def test_hostile_seed_is_clamped_not_an_error(client, content):
    for seed, used in [("-5", 0), ("99999999999", 999), ("abc", 1), ("", 1)]:
        response = client.get(
            "/lessons/transactional-outbox/", {"playground": "order-saga", "run": "1", "seed": seed}
        )
        assert response.status_code == 200
        html = response.content.decode()
        assert f'name="seed" min="0" max="999" value="{used}"' in html, seed


def test_runs_are_cached_by_scenario_toggles_and_seed(client, content):
    cache.clear()
    _broken(client, "transactional-outbox", "order-saga", outbox=True)
    keys = len(cache._cache)  # LocMemCache
    _broken(client, "transactional-outbox", "order-saga", outbox=True)
    assert len(cache._cache) == keys
    _broken(client, "transactional-outbox", "order-saga", outbox=False)
    assert len(cache._cache) == keys + 1

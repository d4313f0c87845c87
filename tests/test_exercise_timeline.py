"""The counterexample timeline: an SVG built on the server, safe under a strict CSP."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

from courseapp.lib.timeline import (
    CHAR,
    annotate,
    fault_text,
    involved_ids,
    lanes_for,
    timeline_svg,
)

ROOT = Path(__file__).resolve().parent.parent

TRACE = [
    {
        "t": 0,
        "service": "payment",
        "kind": "publish",
        "message_id": "m1",
        "correlation_id": "c",
        "detail": "PaymentCaptured",
    },
    {
        "t": 4,
        "service": "order",
        "kind": "deliver",
        "message_id": "m1",
        "correlation_id": "c",
        "detail": "deliver 1",
    },
    {
        "t": 5,
        "service": "order",
        "kind": "crash",
        "message_id": "m1",
        "correlation_id": "c",
        "detail": "order crashed",
    },
    {
        "t": 6,
        "service": "order",
        "kind": "duplicate",
        "message_id": "m1",
        "correlation_id": "c",
        "detail": "again",
    },
    {
        "t": 7,
        "service": "client",
        "kind": "call",
        "message_id": None,
        "correlation_id": "c",
        "detail": "charge()",
        "to": "payment",
    },
    {
        "t": 9,
        "service": "payment",
        "kind": "dlq",
        "message_id": "m2",
        "correlation_id": "c",
        "detail": "dead",
    },
]


def _drawings(html: str) -> list[str]:
    """The two drawings of one timeline: side by side (wide screens), then stacked (phones)."""
    parts = [part + "</svg>" for part in html.split("</svg>")[:-1]]
    assert len(parts) == 2
    assert "timeline-side" in parts[0] and "timeline-stacked" in parts[1]
    return parts


def test_it_draws_a_lane_per_service_including_ones_only_in_the_trace():
    assert lanes_for(TRACE, ["payment", "order"]) == ["payment", "order", "client"]
    for svg in _drawings(timeline_svg(TRACE, ["payment", "order"])):
        assert svg.count('class="tl-lane"') == 3


def test_it_draws_arrows_for_calls_and_for_deliveries():
    for svg in _drawings(timeline_svg(TRACE, ["payment", "order"])):
        assert svg.count("marker-end=") == 2
        assert "tl-dashed" in svg


def test_each_drawing_has_its_own_ids():
    ids = re.findall(r'id="([^"]+)"', timeline_svg(TRACE, []))
    assert len(ids) == len(set(ids)) == 6


def test_faults_are_marked_by_colour_and_by_words():
    svg = timeline_svg(TRACE, [])
    for word, _tone in (("CRASH", "bad"), ("DUPLICATE", "warn"), ("DEAD LETTER", "bad")):
        assert word in svg
    assert "tl-cross" in svg and "tl-label tl-text-bad" in svg and "tl-label tl-text-warn" in svg


def test_it_escapes_whatever_the_trace_says_and_uses_no_inline_style_or_script():
    hostile = [
        {
            "t": "<b>",
            "service": "<script>alert(1)</script>",
            "kind": 'crash" onload="x',
            "detail": "</text><script>alert(2)</script>",
        }
    ]
    svg = timeline_svg(hostile, ["<img src=x>"])
    assert "<script" not in svg and "<img" not in svg and "<b>" not in svg
    assert 'onload="x' not in svg
    assert "style=" not in timeline_svg(TRACE, [])


def test_it_describes_itself_for_screen_readers():
    svg = timeline_svg(TRACE, [])
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg


def test_a_long_trace_is_cut_with_a_note():
    long = [{"t": i, "service": "a", "kind": "commit", "detail": "x"} for i in range(450)]
    assert "50 more steps not drawn" in timeline_svg(long, [])


def test_the_load_chart_draws_a_bar_per_busy_window_and_names_the_peak():
    from courseapp.lib.timeline import load_svg

    svg = load_svg([[0, 40], [200, 12], [1000, 3]])
    assert svg.count('class="load-bar"') == 3
    assert "busiest window had 40 calls at t=0 ms" in svg and "style=" not in svg
    assert load_svg([]) == "" and load_svg([["x", "<script>"]]) == ""


# What a learner reads at a glance: whole labels, what each delivery carries, the steps that matter.

ORDER_TRACE = [
    {
        "t": 20,
        "service": "payment",
        "kind": "publish",
        "message_id": "payment-1",
        "correlation_id": "chk-1",
        "detail": "PaymentCaptured order_id=ord-630302, payment_id=pay-7d9, amount=27",
    },
    {
        "t": 20,
        "service": "payment",
        "kind": "publish",
        "message_id": "payment-2",
        "correlation_id": "chk-1",
        "detail": "PaymentCaptured order_id=ord-aa3a1e, payment_id=pay-35c, amount=14",
    },
    {
        "t": 30,
        "service": "order",
        "kind": "deliver",
        "message_id": "payment-1",
        "correlation_id": "chk-1",
        "detail": "PaymentCaptured -> on_payment_captured() (delivery 1)",
    },
    {
        "t": 30,
        "service": "order",
        "kind": "deliver",
        "message_id": "payment-2",
        "correlation_id": "chk-1",
        "detail": "PaymentCaptured -> on_payment_captured() (delivery 1)",
    },
    {
        "t": 30,
        "service": "order",
        "kind": "commit",
        "message_id": "payment-2",
        "correlation_id": "chk-1",
        "detail": "orders/ord-aa3a1e status=CONFIRMED; outbox OrderConfirmed",
    },
]
BROKEN = [
    {
        "name": "confirmed_once",
        "title": "Confirmed exactly once",
        "explanation": "…",
        "detail": "order ord-aa3a1e was confirmed 2 times (shipping received 2 different events)",
    }
]


def _tspans(svg: str) -> list[str]:
    return [unescape(text) for text in re.findall(r"<tspan[^>]*>([^<]*)</tspan>", svg)]


def test_no_label_is_cut_however_long_it_is():
    words = [f"word{i:03d}" for i in range(60)]
    step = {"t": 1, "service": "order", "kind": "commit", "detail": " ".join(words)}
    for svg in _drawings(timeline_svg([step], ["order"])):
        width = int(svg.split('width="', 1)[1].split('"', 1)[0])
        drawn = " ".join(_tspans(svg))
        assert all(word in drawn for word in words) and "…" not in drawn
        # Every line ends inside the drawing: the labels are monospace, so its width is known.
        for x, line in re.findall(r'<tspan x="(\d+)"[^>]*>([^<]*)</tspan>', svg):
            assert int(x) + len(unescape(line)) * CHAR <= width


def test_lane_names_are_drawn_whole():
    svg = timeline_svg([{"t": 0, "service": "a-rather-long-service-name", "kind": "commit"}], [])
    assert ">a-rather-long-service-name</text>" in svg


def test_a_delivery_says_which_message_it_carries_and_which_order_that_message_is_about():
    svg = timeline_svg(ORDER_TRACE, ["payment", "order"])
    drawn = " ".join(_tspans(svg))
    assert "[message payment-2 (order_id=ord-aa3a1e)]" in drawn
    assert "[message payment-1 (order_id=ord-630302)]" in drawn
    steps = annotate(ORDER_TRACE)
    assert steps[3]["about"] == "order_id=ord-aa3a1e" and steps[4]["carries"] == "message payment-2"


def test_the_steps_that_involve_what_the_broken_invariant_names_are_highlighted():
    steps = annotate(ORDER_TRACE, BROKEN)
    assert [s["involved"] for s in steps] == [False, True, False, True, True]
    for svg in _drawings(timeline_svg(ORDER_TRACE, ["payment", "order"], violations=BROKEN)):
        assert svg.count('class="tl-row tl-hit"') == 3 and svg.count('class="tl-hit-band"') == 3
        assert "Highlighted: the steps that involve ord-aa3a1e" in " ".join(_tspans(svg))
        assert "the steps that involve ord-aa3a1e are highlighted" in svg  # for screen readers


def test_a_call_and_what_it_causes_are_highlighted_together():
    trace = [
        {
            "t": 0,
            "service": "client",
            "kind": "call",
            "correlation_id": "c1",
            "to": "payment",
            "detail": "charge(order_id=ord-a8e258, amount=43) key=k1",
        },
        {
            "t": 0,
            "service": "payment",
            "kind": "commit",
            "correlation_id": "c1",
            "detail": "accounts/cus-51 balance=155; insert charges/ch-73e9648e-1",
        },
        {
            "t": 0,
            "service": "payment",
            "kind": "crash",
            "correlation_id": "c1",
            "detail": "payment crashed in charge() after 1 effect(s)",
        },
        {
            "t": 5,
            "service": "payment",
            "kind": "commit",
            "correlation_id": "c2",
            "detail": "accounts/cus-99 balance=10",
        },
    ]
    violations = [{"name": "x", "title": "X", "detail": "order ord-a8e258 was charged 2 times"}]
    assert [s["involved"] for s in annotate(trace, violations)] == [True, True, True, False]


def test_nothing_is_highlighted_without_a_broken_invariant_that_names_an_id():
    assert not any(s["involved"] for s in annotate(ORDER_TRACE, []))
    vague = [{"name": "settles", "title": "S", "detail": "the system had not settled after 500 ms"}]
    assert involved_ids(vague) == []
    assert "tl-hit" not in timeline_svg(ORDER_TRACE, [], violations=vague)


def test_the_first_id_of_each_problem_is_the_one_highlighted():
    violations = [
        {
            "detail": "ord-6dbcb6 is CANCELLED but 3 unit(s) of sku-812 are still reserved; "
            "trip trip-502153 is CANCELLED but the flight is still booked"
        },
        {"detail": "OrderCreated (order-1) was published without a correlation id"},
    ]
    assert involved_ids(violations) == ["ord-6dbcb6", "trip-502153", "order-1"]


def test_a_fault_is_told_in_the_words_of_the_grading_summary():
    from sandbox import grade

    starter = (ROOT / "sandbox/scenarios/idempotent_charge/starter.py").read_text()
    report = grade("idempotent_charge", starter, random_schedules=0)
    schedule = report["counterexample"]["schedule"]
    crash = next(f for f in schedule if f["kind"] == "crash")
    assert fault_text(crash) in report["message"]
    assert "after 1 effect(s)" in fault_text({**crash, "at": 1})
    assert "before doing anything" in fault_text({**crash, "at": 0})


def test_a_malformed_fault_is_still_told():
    assert fault_text({"kind": "crash"}) == "crash at ?"
    assert fault_text("nonsense") == "nonsense"

"""The counterexample timeline: an SVG built on the server, safe under a strict CSP."""

from __future__ import annotations

from courseapp.lib.timeline import lanes_for, timeline_svg

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


def test_it_draws_a_lane_per_service_including_ones_only_in_the_trace():
    assert lanes_for(TRACE, ["payment", "order"]) == ["payment", "order", "client"]
    svg = timeline_svg(TRACE, ["payment", "order"])
    assert svg.count('class="tl-lane"') == 3


def test_it_draws_arrows_for_calls_and_for_deliveries():
    svg = timeline_svg(TRACE, ["payment", "order"])
    assert svg.count("marker-end=") == 2
    assert "tl-dashed" in svg


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

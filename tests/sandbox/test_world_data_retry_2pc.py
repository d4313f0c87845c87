"""The retry storm, shipping-down, two-phase-commit and design-saga worlds: their data varies per
schedule (and only per schedule), and their invariants measure exactly what the statements say."""

from types import SimpleNamespace

import pytest

import sandbox
from sandbox import scenarios
from sandbox.explore import Session, _plan
from sandbox.rng import schedule_seed
from sandbox.runner import InProcessRunner

RETRY = scenarios.get("retry_storm")
SHIPPING = scenarios.get("shipping_down")
TWOPC = scenarios.get("two_phase_commit")
DESIGN = scenarios.get("design_saga")


def _worlds(sc, source=None, n=40):
    session = Session(sc, InProcessRunner(source or sc.reference_source), {})
    for i in range(n):
        seed = schedule_seed(0, i)
        world, broken = session.run(_plan(sc, "random", seed), seed, tracing=False)
        yield seed, world, broken


def _broken(report):
    return [v["name"] for v in report["violations"]]


# -- retry storm ---------------------------------------------------------------------------------


def test_retry_crowds_and_outages_vary_per_schedule_and_repeat_per_seed():
    seen = [(w.notes["clients"][0], w.notes["recovered_at"][0]) for _, w, _ in _worlds(RETRY, n=30)]
    assert len({c for c, _ in seen}) > 5 and len({r for _, r in seen}) > 10
    assert all(RETRY.CLIENTS_MIN <= c <= RETRY.CLIENTS_MAX for c, _ in seen)
    again = [
        (w.notes["clients"][0], w.notes["recovered_at"][0]) for _, w, _ in _worlds(RETRY, n=30)
    ]
    assert again == seen


def test_a_burst_split_across_two_buckets_still_counts_as_one_peak():
    # 40 retries between t=1080 and t=1119: the 100 ms buckets see 20 and 20, a sliding window 40.
    world = SimpleNamespace(
        notes={"recovered_at": [1000], "retry_times": [1080 + i for i in range(40)]}
    )
    assert RETRY.peak_after_recovery(world) == (40, 1080)
    spread = SimpleNamespace(
        notes={"recovered_at": [1000], "retry_times": [1000 + 25 * i for i in range(40)]}
    )
    assert RETRY.peak_after_recovery(spread)[0] == 4


def test_retries_while_inventory_is_down_are_not_counted():
    world = SimpleNamespace(notes={"recovered_at": [1000], "retry_times": [50] * 56 + [1200, 1300]})
    assert RETRY.peak_after_recovery(world)[0] == 1


def test_a_policy_that_bursts_during_the_outage_but_spreads_after_it_passes():
    source = """
def retry_delay(attempt, rand):
    if attempt >= 10:
        return None
    if attempt == 1:
        return 60                       # the whole crowd retries once, together, while inventory is down
    ceiling = min(4000, 200 * 2 ** attempt)
    return ceiling / 2 + rand * ceiling / 2
"""
    assert sandbox.grade("retry_storm", source, random_schedules=200)["status"] == "passed"


def test_a_policy_synchronised_after_recovery_fails_on_the_spread_rule():
    source = """
def retry_delay(attempt, rand):
    if attempt >= 10:
        return None
    return 1000 if attempt < 3 else 500 + rand * 5
"""
    report = sandbox.grade("retry_storm", source, random_schedules=200)
    assert "retries_bounded_and_spread" in _broken(report)
    assert "after it came back" in report["message"]


def test_true_decorrelated_jitter_kept_in_a_module_variable_passes():
    source = """
BASE_MS, CAP_MS = 200, 5000
_previous = [BASE_MS]


def retry_delay(attempt, rand):
    if attempt == 1:
        _previous[0] = BASE_MS
    if attempt >= 10:
        return None
    _previous[0] = min(CAP_MS, BASE_MS + rand * (_previous[0] * 3 - BASE_MS))
    return _previous[0]
"""
    assert sandbox.grade("retry_storm", source, random_schedules=300)["status"] == "passed"


def test_long_waits_within_the_attempt_cap_are_allowed_even_past_the_window():
    source = """
def retry_delay(attempt, rand):
    if attempt >= 10:
        return None
    ceiling = min(10_000, 500 * 2 ** attempt)       # nine waits can add up to more than the window
    return ceiling / 2 + rand * ceiling / 2
"""
    assert sandbox.grade("retry_storm", source, random_schedules=200)["status"] == "passed"


FULL_JITTER_CEILING_FROM_100 = """
def retry_delay(attempt, rand):
    if attempt >= {attempts}:
        return None
    return rand * min(2000, 100 * 2 ** (attempt - 1))
"""


def test_the_statements_sizing_example_fails_with_eight_attempts_and_passes_with_ten():
    eight = sandbox.grade(
        "retry_storm", FULL_JITTER_CEILING_FROM_100.format(attempts=8), random_schedules=300
    )
    assert "requests_complete" in _broken(eight)
    ten = sandbox.grade(
        "retry_storm", FULL_JITTER_CEILING_FROM_100.format(attempts=10), random_schedules=300
    )
    assert ten["status"] == "passed", ten["message"]


# -- shipping down -------------------------------------------------------------------------------


def test_shipping_orders_vary_share_customers_and_carry_unguessable_ids():
    orders = [w.notes["orders"][0] for _, w, _ in _worlds(SHIPPING, n=40)]
    ids = [oid for o in orders for oid in o]
    assert len(set(ids)) == len(ids) and not {"o1", "o2"} & set(ids)
    assert all(
        o["corr"] != f"corr-{oid}" and oid not in o["corr"]
        for os in orders
        for oid, o in os.items()
    )
    assert any(len({o["customer"] for o in os.values()}) < len(os) for os in orders), (
        "no shared customers"
    )
    assert any(o["refused"] for os in orders for o in os.values()), "no permanent refusal"
    assert any(o["late"] for os in orders for o in os.values()), "no late processing"
    assert len({len(os) for os in orders}) > 1


def _stores(payments, shipment):
    class Store:
        def __init__(self, tables):
            self.tables = tables

        def rows(self, table):
            return self.tables.get(table, {})

        def get(self, table, key):
            return self.tables.get(table, {}).get(key)

    return {
        "payment": Store({"payments": payments}),
        "shipping": Store({"shipments": {"o": shipment} if shipment else {}}),
    }


@pytest.mark.parametrize(
    "payments, shipment, now, expected",
    [
        ({"p": {"order_id": "o", "captured_at": 1000, "refunded_at": 9000}}, None, 20_000, 8000),
        ({"p": {"order_id": "o", "captured_at": 1000}}, {"scheduled_at": 4000}, 20_000, 3000),
        (
            {"p": {"order_id": "o", "captured_at": 1000}},
            {"scheduled_at": 4000, "cancelled_at": 6000},
            20_000,
            17_000,
        ),
        (
            {
                "p": {"order_id": "o", "captured_at": 1000, "refunded_at": 5000},
                "q": {"order_id": "o", "captured_at": 3000, "refunded_at": 7000},
            },
            None,
            20_000,
            6000,
        ),
        ({"p": {"order_id": "other", "captured_at": 0}}, None, 20_000, 0),
    ],
)
def test_time_charged_without_a_shipment_is_measured_exactly(payments, shipment, now, expected):
    world = SimpleNamespace(now=now, stores=_stores(payments, shipment))
    assert SHIPPING.charged_without_shipment_ms(world, "o") == expected


CAPTURE_THEN_REFUND = """
from saga_api import DuplicateKey, Timeout, RetryLater

REFUND_AFTER_MS = {after}


def checkout(command, ctx):
    order = command.data
    oid = order["order_id"]
    corr = command.correlation_id
    with ctx.db.transaction() as tx:
        if not tx.get("orders", oid):
            # The clock starts before the charge: a charge whose reply was lost took the money earlier
            # than this code can tell.
            tx.insert("orders", oid, {{"status": "PENDING", "since": ctx.now, "outcome": None}})
    row = ctx.db.get("orders", oid)
    if row["status"] != "PENDING":
        return
    call = lambda service, op: ctx.call(service, op, order, idempotency_key=op + oid, correlation_id=corr)
    try:
        outcome = row["outcome"]
        if outcome is None:
            if call("payment", "charge")["status"] != "captured":
                return end(ctx, oid, "CANCELLED", corr)
            try:
                ok = call("shipping", "schedule")["status"] == "scheduled"
            except Timeout:
                if ctx.now - row["since"] + 500 <= REFUND_AFTER_MS:
                    raise RetryLater(500)
                ok = False
            outcome = "ship" if ok else "refund"
            with ctx.db.transaction() as tx:
                tx.update("orders", oid, outcome=outcome)
        if outcome == "refund":
            call("payment", "refund")
            return end(ctx, oid, "CANCELLED", corr)
    except Timeout:
        raise RetryLater(300)
    end(ctx, oid, "CONFIRMED", corr)


def end(ctx, oid, status, corr):
    with ctx.db.transaction() as tx:
        tx.update("orders", oid, status=status)
        if status == "CANCELLED":
            tx.outbox("CancelShipment", {{"order_id": oid}}, correlation_id=corr)
"""


def test_capture_then_refund_passes_inside_the_window_and_fails_outside_it():
    limit = SHIPPING.CHARGED_WITHOUT_SHIPMENT_MS
    inside = sandbox.grade(
        "shipping_down", CAPTURE_THEN_REFUND.format(after=limit - 1500), random_schedules=150
    )
    assert inside["status"] == "passed", inside["message"]
    outside = sandbox.grade(
        "shipping_down", CAPTURE_THEN_REFUND.format(after=limit + 1500), random_schedules=150
    )
    assert "no_charge_without_shipment" in _broken(outside)


def test_a_request_that_timed_out_while_shipping_was_down_is_processed_when_it_is_back():
    queued = [
        (w, c)
        for _, w, _ in _worlds(SHIPPING, n=60)
        for c in w.rpc.calls
        if c["caller"] == "shipping"
    ]
    assert queued, "no schedule request was processed late"
    assert all(c["t"] == w.notes["shipping_back"][0] and c["op"] == "schedule" for w, c in queued)


# -- two-phase commit ----------------------------------------------------------------------------


def test_transfers_vary_share_accounts_and_meet_every_kind_of_no_vote():
    worlds = list(_worlds(TWOPC, n=60))
    transfers = [w.notes["transfers"][0] for _, w, _ in worlds]
    ids = [xid for t in transfers for xid in t]
    assert len(set(ids)) == len(ids) and all(xid.startswith("t-") for xid in ids)
    assert all(
        x["corr"] != f"corr-{xid}" and xid not in x["corr"]
        for t in transfers
        for xid, x in t.items()
    )
    shared = [
        t
        for t in transfers
        if len({x["changes"]["bank_a"]["account"] for x in t.values()}) < len(t)
    ]
    assert shared, "no two transfers share an account"
    reasons = {
        (w.stores[bank].get("txns", xid) or {}).get("state")
        for _, w, _ in worlds
        for bank in ("bank_a", "bank_b")
        for xid in w.notes["transfers"][0]
    }
    assert {"COMMITTED", "ABORTED"} <= reasons
    assert any(
        c["op"] == "prepare" and c["t"] >= TWOPC.LATE_PREPARE_MIN_MS
        for _, w, _ in worlds
        for c in w.rpc.calls
    )


def test_no_votes_carry_their_reason_and_a_correct_coordinator_leaves_no_lock():
    session = Session(TWOPC, InProcessRunner(TWOPC.reference_source), {})
    details = []
    for i in range(60):
        seed = schedule_seed(0, i)
        world, broken = session.run(_plan(TWOPC, "random", seed), seed, tracing=True)
        assert not broken
        details += [step["detail"] for step in world.trace.steps if step["kind"] == "vote"]
        for bank in ("bank_a", "bank_b"):
            assert all(
                acc["locked_by"] is None for acc in world.stores[bank].rows("accounts").values()
            )
    for reason in ("locked", "insufficient_funds", "refused"):
        assert any(f"reason={reason}" in d for d in details), reason


def test_a_late_prepare_after_an_abort_finds_the_transfer_aborted():
    # The reference aborts every bank, also one that never answered; a late copy then votes no.
    for _, w, broken in _worlds(TWOPC, n=80):
        assert not broken
        for c in w.rpc.calls:
            if c["op"] == "prepare" and c["t"] >= TWOPC.LATE_PREPARE_MIN_MS:
                xid = c["data"]["transfer_id"]
                assert (w.stores[c["service"]].get("txns", xid) or {}).get("state") in (
                    "COMMITTED",
                    "ABORTED",
                )


# -- design saga ---------------------------------------------------------------------------------


def test_design_saga_runs_the_shops_varied_orders():
    from sandbox.scenarios.shop import ORDERS_PER_RUN

    orders = [w.notes["shop"]["orders"] for _, w, _ in _worlds(DESIGN, n=20)]
    assert all(len(o) == ORDERS_PER_RUN for o in orders)
    assert len({oid for o in orders for oid in o}) > ORDERS_PER_RUN, (
        "every schedule got the same orders"
    )
    assert all(len({x["customer"] for x in o.values()}) < len(o) for o in orders), (
        "no shared customer"
    )
    statuses = {
        x.get("status")
        for _, w, _ in _worlds(DESIGN, n=20)
        for x in w.stores["order"].rows("orders").values()
    }
    assert {"CONFIRMED", "CANCELLED"} <= statuses


# -- nothing done is not a pass ------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "pass",
        """for bank in ("bank_a", "bank_b"):
        ctx.call(bank, "abort", command.data, correlation_id=command.correlation_id)""",
    ],
)
def test_a_coordinator_that_never_commits_fails(body):
    source = f"def transfer(command, ctx):\n    {body}\n"
    assert "twopc_commits" in _broken(
        sandbox.grade("two_phase_commit", source, random_schedules=20)
    )


def test_a_coordinator_may_presume_abort_after_its_own_crash():
    source = """
from saga_api import Timeout, RetryLater

BANKS = ["bank_a", "bank_b"]


def transfer(command, ctx):
    xid = command.data["transfer_id"]
    row = ctx.db.get("log", xid)
    if row is None:
        with ctx.db.transaction() as tx:
            tx.insert("log", xid, {"state": "preparing"})
        votes = []
        for bank in BANKS:
            try:
                votes.append(ctx.call(bank, "prepare", command.data, correlation_id=command.correlation_id)["vote"])
            except Timeout:
                votes.append("no")
        decision = "commit" if votes == ["yes", "yes"] else "abort"
        with ctx.db.transaction() as tx:
            tx.update("log", xid, state=decision)
    elif row["state"] == "preparing":
        decision = "abort"                 # crashed before deciding: nobody was told to commit
        with ctx.db.transaction() as tx:
            tx.update("log", xid, state=decision)
    else:
        decision = row["state"]
    try:
        for bank in BANKS:
            ctx.call(bank, decision, command.data, correlation_id=command.correlation_id)
    except Timeout:
        raise RetryLater(300)
"""
    report = sandbox.grade("two_phase_commit", source, random_schedules=300)
    assert report["status"] == "passed", report["message"]


def test_a_checkout_that_cancels_every_order_fails():
    source = """
def checkout(command, ctx):
    with ctx.db.transaction() as tx:
        tx.put("orders", command.data["order_id"], {"status": "CANCELLED"})
"""
    assert "cancelled_for_a_reason" in _broken(
        sandbox.grade("shipping_down", source, random_schedules=20)
    )


def test_a_saga_that_cancels_instead_of_confirming_fails():
    source = DESIGN.variants["cancels_instead"][0]
    assert "saga_compensates" in _broken(sandbox.grade("design_saga", source, random_schedules=20))

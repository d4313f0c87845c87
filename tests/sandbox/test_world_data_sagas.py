"""The order saga and travel worlds vary their data per schedule, so a solution keyed on the wrong field
fails: unguessable ids and correlation ids, orders sharing SKUs and customers, twins, stock and money
that run out, busy (transient) answers against final refusals, and requests that arrive late."""

import pytest

import sandbox
from sandbox import scenarios
from sandbox.explore import Session, _plan
from sandbox.runner import InProcessRunner
from sandbox.scenarios import shop

SAGAS = ("order_saga_choreography", "order_saga_orchestration")
SEEDS = range(shop.DATA_SETS)


def _calm_world(name, seed, source=None):
    sc = scenarios.get(name)
    world, broken = Session(sc, InProcessRunner(source or sc.reference_source), {}).run(
        _plan(sc, "replay", seed, []), seed
    )
    return world, broken


def _data(name, seed):
    world, _ = _calm_world(name, seed)
    return world.notes["shop"] if name in SAGAS else world.notes["travel"]


def _names(report):
    return [v["name"] for v in report["violations"]]


@pytest.mark.parametrize("name", SAGAS + ("travel_booking",))
def test_the_same_seed_gives_the_same_data_and_other_seeds_other_ids(name):
    first, again, other = _data(name, 0), _data(name, 0), _data(name, 1)
    key = "orders" if name in SAGAS else "trips"
    assert first == again
    assert set(first[key]).isdisjoint(other[key])
    assert set(first["corr"].values()).isdisjoint(other["corr"].values())


@pytest.mark.parametrize("name", SAGAS + ("travel_booking",))
def test_correlation_ids_cannot_be_derived_from_the_ids_they_belong_to(name):
    for seed in SEEDS:
        data = _data(name, seed)
        for oid, corr in data["corr"].items():
            assert oid not in corr and corr not in oid
            assert corr.removeprefix("c-")[:4] not in oid
        assert len(set(data["corr"].values())) == len(data["corr"])


def test_every_shop_data_set_shares_a_sku_and_a_customer_and_has_twins():
    for seed in SEEDS:
        orders = list(_data("order_saga_choreography", seed)["orders"].values())
        skus = [o["sku"] for o in orders]
        customers = [o["customer"] for o in orders]
        assert max(skus.count(s) for s in skus) >= 2, seed
        assert max(customers.count(c) for c in customers) >= 2, seed
        content = [(o["customer"], o["sku"], o["qty"], o["amount"]) for o in orders]
        assert len(set(content)) < len(content), f"data set {seed} has no twin orders"


def test_in_a_calm_run_stock_and_money_run_out_part_way():
    declined = out_of_stock = second_capture = 0
    for seed in SEEDS:
        world, broken = _calm_world("order_saga_choreography", seed)
        assert not broken
        statuses = [
            world.stores["order"].get("orders", oid)["status"]
            for oid in world.notes["shop"]["orders"]
        ]
        assert "CONFIRMED" in statuses and "CANCELLED" in statuses
        types = [m["type"] for m in world.broker.published]
        declined += "PaymentFailed" in types
        out_of_stock += "InventoryFailed" in types
        payers = [
            world.notes["shop"]["orders"][p["order_id"]]["customer"]
            for p in world.stores["payment"].rows("payments").values()
        ]
        second_capture += len(payers) > len(set(payers))
    assert declined == len(SEEDS), "every data set has an order refused because the money ran out"
    assert out_of_stock and second_capture, (
        "some data sets run out of stock, others charge a customer twice"
    )


def test_the_last_units_always_and_the_last_money_sometimes_fit_exactly():
    money_exact = 0
    for seed in SEEDS:
        world, _ = _calm_world("order_saga_choreography", seed)
        data = world.notes["shop"]
        twins = list(data["orders"].values())[:2]
        assert data["stock"][twins[0]["sku"]] == sum(o["qty"] for o in twins)
        money_exact += any(
            row["balance"] == 0 for row in world.stores["payment"].rows("accounts").values()
        )
    assert money_exact > 0


@pytest.mark.parametrize(
    "variant",
    [
        "reservation_by_sku",
        "payment_by_customer",
        "dedup_by_content",
        "rebuilt_correlation_id",
        "strict_comparison",
        "inbox_by_order_id",
    ],
)
def test_a_choreography_keyed_on_the_wrong_field_fails_without_any_fault(variant):
    sc = scenarios.get("order_saga_choreography")
    source, expected = sc.variants[variant]
    report = sandbox.replay("order_saga_choreography", source, 0, [])
    assert expected in _names(report)


def test_releasing_another_orders_reservation_is_caught():
    sc = scenarios.get("order_saga_choreography")
    source, expected = sc.variants["release_by_sku"]
    caught = [
        seed
        for seed in SEEDS
        if expected in _names(sandbox.replay("order_saga_choreography", source, seed, []))
    ]
    assert caught, "the twin's reservation is released in some data set"
    assert (
        sandbox.grade("order_saga_choreography", source, random_schedules=100)["status"] == "failed"
    )


def test_a_refusal_is_justified_by_what_the_refusing_handler_saw():
    world, broken = _calm_world("order_saga_choreography", 0)
    assert not broken
    orders = world.notes["shop"]["orders"]
    for m in world.broker.published:
        if m["type"] == "PaymentFailed":
            oid = m["data"]["order_id"]
            assert min(world.notes["seen_balance"][oid]) < orders[oid]["amount"]


@pytest.mark.parametrize(
    "name,variant",
    [("order_saga_orchestration", "key_by_customer"), ("travel_booking", "key_by_customer")],
)
def test_idempotency_keys_built_from_the_customer_replay_another_orders_answer(name, variant):
    source, expected = scenarios.get(name).variants[variant]
    for seed in (0, 1, 2):
        assert expected in _names(sandbox.replay(name, source, seed, []))


@pytest.mark.parametrize(
    "name,variant",
    [
        ("order_saga_orchestration", "busy_means_refused"),
        ("travel_booking", "busy_means_unavailable"),
    ],
)
def test_a_busy_answer_is_transient_and_treating_it_as_a_refusal_fails(name, variant):
    world, broken = _calm_world(name, 0)
    assert not broken
    busy = [
        (service, key) for service in world.stores for key in world.stores[service].rows("busy")
    ]
    assert len(busy) == 1
    source, expected = scenarios.get(name).variants[variant]
    assert expected in _names(sandbox.replay(name, source, 0, []))


def test_a_busy_answer_is_not_stored_under_the_idempotency_key():
    world, _ = _calm_world("order_saga_orchestration", 0)
    ((service, oid),) = [(s, k) for s in world.stores for k in world.stores[s].rows("busy")]
    op = "reserve" if service == "inventory" else "capture"
    saved = world.stores[service].get("keys", f"{op}-{oid}")
    assert saved["result"]["status"] != "busy"  # a final answer, stored once the server was free


def test_a_late_request_lands_after_a_compensation_sent_on_timeout():
    sc = scenarios.get("order_saga_orchestration")
    late = [{"kind": "late_reply", "site": "order.handle_place_order:cmd-1#1>inventory.reserve#1"}]
    assert (
        sandbox.replay("order_saga_orchestration", sc.reference_source, 0, late)["status"]
        == "passed"
    )
    report = sandbox.replay(
        "order_saga_orchestration", sc.variants["compensate_on_timeout"][0], 0, late
    )
    assert "cancelled_is_clean" in _names(report)
    kinds = [(s["kind"], s["detail"]) for s in report["counterexample"]["trace"]]
    release = next(
        i for i, (k, d) in enumerate(kinds) if k == "compensate" and d.startswith("release")
    )
    landed = next(
        i
        for i, (k, d) in enumerate(kinds)
        if k == "call" and d.startswith("reserve") and i > release
    )
    assert release < landed


def test_a_late_booking_lands_after_the_trip_was_cancelled_on_timeout():
    sc = scenarios.get("travel_booking")
    late = [{"kind": "late_reply", "site": "booking.book_trip:cmd-2#1>flight.book#1"}]
    assert sandbox.replay("travel_booking", sc.reference_source, 0, late)["status"] == "passed"
    report = sandbox.replay("travel_booking", sc.variants["compensate_on_timeout"][0], 0, late)
    assert "cancelled_is_clean" in _names(report)


def test_travel_data_sets_have_twin_trips_and_a_partner_that_runs_out():
    for seed in SEEDS:
        data = _data("travel_booking", seed)
        trips = list(data["trips"].values())
        assert len({(t["customer"], tuple(sorted(t["fares"].items()))) for t in trips}) == 1, (
            "twins"
        )
        assert sorted(data["capacity"].values()) == [len(trips) - 1, len(trips), len(trips)]
        world, broken = _calm_world("travel_booking", seed)
        assert not broken
        assert len(world.notes["refused"]) == 1, (
            "one trip finds no place left (the last one to ask)"
        )


def test_lesson_playgrounds_keep_the_classic_two_orders_and_two_trips():
    from sandbox import playgrounds

    steps = playgrounds.run("order-saga", {})["trace"]
    assert {s["correlation_id"] for s in steps if s["kind"] == "deliver"} == {"corr-o1", "corr-o2"}
    steps = playgrounds.run("travel-booking", {})["trace"]
    assert {s["correlation_id"] for s in steps if s["kind"] == "deliver"} == {"corr-t1", "corr-t2"}


def _swap(name, old, new):
    source = scenarios.get(name).reference_source
    assert old in source
    return source.replace(old, new)


def test_an_outcome_event_published_before_its_status_is_committed_is_a_ghost():
    source = _swap(
        "order_saga_orchestration",
        """    with ctx.db.transaction() as tx:
        tx.update("orders", oid, status=status)
        tx.outbox("Order" + status.capitalize(), {"order_id": oid}, correlation_id=corr)""",
        """    ctx.publish("Order" + status.capitalize(), {"order_id": oid}, correlation_id=corr)
    with ctx.db.transaction() as tx:
        tx.update("orders", oid, status=status)""",
    )
    report = sandbox.replay("order_saga_orchestration", source, 0, [])
    assert _names(report) == ["no_ghost_event"]


def test_a_payment_announced_before_it_is_committed_is_a_ghost():
    source = _swap(
        "order_saga_choreography",
        """            tx.outbox("PaymentSucceeded", order, correlation_id=event.correlation_id)""",
        """            ctx.publish("PaymentSucceeded", order, correlation_id=event.correlation_id)""",
    )
    report = sandbox.replay("order_saga_choreography", source, 0, [])
    assert "no_ghost_event" in _names(report)
    assert (
        sandbox.replay(
            "order_saga_choreography",
            scenarios.get("order_saga_choreography").reference_source,
            0,
            [],
        )["status"]
        == "passed"
    )


def test_a_refusal_that_arrives_after_the_cancellation_does_not_justify_it():
    sc = scenarios.get("order_saga_orchestration")
    source = sc.variants["compensate_on_timeout"][0]
    for n in (1, 2, 3):
        late = [
            {
                "kind": "late_reply",
                "site": f"order.handle_place_order:cmd-{n}#1>inventory.reserve#1",
            }
        ]
        report = sandbox.replay("order_saga_orchestration", source, 0, late)
        assert "cancelled_for_a_reason" in _names(report), n

"""Module globals are not durable: every call into learner code starts from a freshly loaded module,
so state kept outside ctx.db never survives a crash, a new schedule or a concurrent copy, and the
answer cache cannot make such code look correct."""

import sandbox

GLOBAL_IDEMPOTENCY = """
ANSWERS = {}

def charge(request, ctx):
    key = request.idempotency_key
    if key in ANSWERS:                      # "already charged": remembered only in memory
        return ANSWERS[key]
    with ctx.db.transaction() as tx:
        customer, amount = request.data["customer"], request.data["amount"]
        balance = tx.get("accounts", customer)["balance"]
        if balance < amount:
            answer = {"status": "declined"}
        else:
            charge_id = "ch-" + key
            tx.update("accounts", customer, balance=balance - amount)
            tx.insert("charges", charge_id, {"order_id": request.data["order_id"], "amount": amount})
            answer = {"status": "charged", "charge_id": charge_id}
    ANSWERS[key] = answer
    return answer
"""

GLOBAL_DEDUP = """
SEEN = set()

def on_payment_captured(event, ctx):
    if event.id in SEEN:
        return
    SEEN.add(event.id)
    with ctx.db.transaction() as tx:
        tx.update("orders", event.data["order_id"], status="CONFIRMED")
        tx.outbox("OrderConfirmed", {"order_id": event.data["order_id"]}, correlation_id=event.correlation_id)
"""

COUNTER = """
CALLS = [0]

def on_payment_captured(event, ctx):
    CALLS[0] += 1
    return CALLS[0]
"""


def test_idempotency_answers_kept_in_a_module_dict_do_not_pass():
    report = sandbox.grade("idempotent_charge", GLOBAL_IDEMPOTENCY, random_schedules=300)
    assert report["status"] == "failed", report["message"]


def test_deduplication_kept_in_a_module_set_does_not_pass():
    report = sandbox.grade("idempotent_consumer", GLOBAL_DEDUP, random_schedules=300)
    assert report["status"] == "failed", report["message"]
    assert "confirmed_once" in [v["name"] for v in report["violations"]]


def test_every_call_sees_a_freshly_loaded_module():
    from sandbox.runner import InProcessRunner

    runner = InProcessRunner(COUNTER)
    request = {
        "op": "call",
        "fn": "on_payment_captured",
        "service": "order",
        "now": 0,
        "invocation": "i",
        "store": {},
        "event": {"id": "m", "type": "T", "data": {}, "correlation_id": "c"},
    }
    assert [runner.request(request)["value"] for _ in range(3)] == [1, 1, 1]

"""Design a saga: the learner declares the steps; the trusted side runs them for every order.

Data families: the shop's (``shop.draw_shop``, drawn from the seed): orders with
unpredictable ids and correlation ids, sharing SKUs and customers, so stock and money run out
mid-run (a twin order of the same customer is declined once the first took the money; the last
order may find its SKU sold out), next to the ``out_of_stock`` / ``declined`` faults. Requests
and replies are lost (``request_lost`` / ``reply_lost``: the runner retries with idempotency
keys, so a lost reply means the service acted) and services crash mid-step.
"""

from ... import effects
from ..base import Scenario
from ..shop import draw_shop, setup_shop, shop, shop_facts

# service.op -> (can it fail for business reasons?, what it does)
CATALOGUE = {
    "order.create": (False, "create the order, PENDING"),
    "order.confirm": (False, "mark the order CONFIRMED"),
    "order.cancel": (False, "mark the order CANCELLED"),
    "inventory.reserve": (True, "reserve the stock (fails when out of stock)"),
    "inventory.release": (False, "release the order's reserved stock"),
    "payment.capture": (True, "capture the money (fails when the card is declined)"),
    "payment.refund": (False, "refund the captured money"),
}
MAX_STEPS = 12
INLINE_RETRIES = 20


class DesignSaga(Scenario):
    name = "design_saga"
    title = "Design a saga"
    summary = (
        "Declare the order saga as a list of steps, each with its action and its compensation, chosen "
        "from the operations Order, Inventory and Payment offer. The simulator runs it for every order "
        "with a failure injected at every step that can fail: a payment failure must release the stock "
        "and cancel the order; a success must end CONFIRMED with stock reserved and money captured."
    )
    lanes = ("saga", "order", "inventory", "payment")
    functions = ("saga",)
    signatures = {"saga": "saga()  (returns a list of saga_api.Step)"}
    invariants = (
        "saga_compensates",
        "orders_resolve",
        "confirmed_is_complete",
        "cancelled_is_clean",
        "conservation",
        "no_double_charge",
    )
    fault_kinds = ("crash", "request_lost", "reply_lost", "out_of_stock", "declined")
    rpc_ops = {tuple(name.split(".")): name.replace(".", "_") for name in CATALOGUE}
    expected = {
        "reference": "pass",
        "missing_compensation": "cancelled_is_clean",
        "cancels_instead": "saga_compensates",
        "wrong_compensation": "cancelled_is_clean",
        "confirm_too_early": "saga_compensates",
        "swapped_compensations": "cancelled_is_clean",
        "order_never_cancelled": "orders_resolve",
        "no_payment_step": "confirmed_is_complete",
        "release_compensates_payment": "cancelled_is_clean",
        "starter": "orders_resolve",
    }

    MAX_STEPS = MAX_STEPS
    INLINE_RETRIES = INLINE_RETRIES

    def setup(self, world):
        setup_shop(world, data=draw_shop(world))
        answer = effects.pure_response(
            world.guest("saga", {"op": "pure", "fn": "saga", "args": []})
        )
        steps, problems = _validate(answer)
        world.notes["design_problems"] = problems
        if problems:
            return
        world.notes["steps"] = steps
        for i, oid in enumerate(shop(world)["orders"]):
            world.sched.at(i * 5, self._run, world, oid, steps)

    def _call(self, world, oid, action, label):
        service, op = action.split(".")
        data = shop(world)
        for attempt in range(1, INLINE_RETRIES + 1):
            answer = world.rpc.call(
                "saga",
                f"saga:{oid}:{label}#{attempt}",
                service,
                op,
                dict(data["orders"][oid]),
                f"{action}-{oid}",
                data["corr"][oid],
            )
            if answer["status"] != "timeout":
                return answer
        return answer

    def _run(self, world, oid, steps):
        done = []
        for step in steps:
            answer = self._call(world, oid, step["action"], step["name"])
            result = answer.get("result") or {}
            if answer["status"] == "ok" and result.get("ok"):
                done.append(step)
                continue
            why = result.get("status") or answer.get("message") or answer["status"]
            world.log(
                "compensate",
                "saga",
                f"step {step['name']} failed ({why}): compensating "
                f"{', '.join(s['name'] for s in reversed(done)) or 'nothing'}",
                {"correlation_id": shop(world)["corr"][oid]},
            )
            if any(s["action"] == "order.confirm" for s in done):
                world.note("saga", f"{oid} was CONFIRMED before step {step['name']} failed")
            for prev in reversed(done):
                if prev["compensation"] is None:
                    if CATALOGUE[prev["action"]][0] or prev["action"] == "order.create":
                        world.note(
                            "saga",
                            f"step {prev['name']} ({prev['action']}) has no compensation, so its "
                            f"effect was kept when {step['name']} failed for {oid}",
                        )
                    continue
                self._call(world, oid, prev["compensation"], "undo-" + prev["name"])
            return
        status = (world.stores["order"].get("orders", oid) or {}).get("status", "never created")
        if status != "CONFIRMED":
            world.note(
                "saga",
                f"no step failed for {oid}, yet it ended {status}: a saga whose steps all succeed "
                f"must end CONFIRMED",
            )

    def facts(self, world):
        facts = shop_facts(world)
        facts["saga_compensates"] = world.notes.get("design_problems", []) + world.notes.get(
            "saga", []
        )
        return facts


def _validate(answer):
    if not answer["ok"]:
        return [], [f"saga() raised {answer['error']}"]
    value = answer["value"]
    if not isinstance(value, list) or not value:
        return [], ["saga() must return a non-empty list of Step(name, action, compensation)"]
    if len(value) > MAX_STEPS:
        return [], [f"saga() returned {len(value)} steps; at most {MAX_STEPS}"]
    steps, problems = [], []
    known = ", ".join(CATALOGUE)
    for i, step in enumerate(value, 1):
        if not isinstance(step, dict) or not isinstance(step.get("name"), str):
            problems.append(f"step {i} is not a Step(name, action, compensation)")
            continue
        action, comp = step.get("action"), step.get("compensation")
        if action not in CATALOGUE:
            problems.append(f"step {step['name']}: unknown action {action!r} (choose from {known})")
        if comp is not None and comp not in CATALOGUE:
            problems.append(
                f"step {step['name']}: unknown compensation {comp!r} (choose from {known})"
            )
        steps.append({"name": step["name"][:60], "action": action, "compensation": comp})
    return steps, problems


SCENARIO = DesignSaga()

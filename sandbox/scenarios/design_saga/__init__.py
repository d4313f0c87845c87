"""Design a saga: the learner declares the steps, the events they publish and their idempotency keys;
the trusted side runs them for every order.

Data families: the shop's (``shop.draw_shop``, drawn from the seed): orders with
unpredictable ids and correlation ids, sharing SKUs and customers, so stock and money run out
mid-run (a twin order of the same customer is declined once the first took the money; the last
order may find its SKU sold out), next to the ``out_of_stock`` / ``declined`` faults. Requests
and replies are lost (``request_lost`` / ``reply_lost``: the runner retries with idempotency
keys, so a lost reply means the service acted) and services crash mid-step.

The learner's ``messages()`` names, per step, its idempotency key (a template over the order's
fields) and the events it publishes when it succeeds, when it is refused and when it is
compensated. The runner uses the keys for real (a request and its retries carry the step's key; a
compensation carries the key plus ``:undo``), so a missing or shared key shows up as a repeat the
services cannot recognise, and publishes the events with the key as their id: a change nobody
announces, or two announcements with one id, is a lost event.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ... import effects
from ..base import DirectOp, Scenario
from ..shop import draw_shop, setup_shop, shop, shop_facts

if TYPE_CHECKING:  # the scenario sets up and reads a world
    from ...world import World


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
# what messages() says about a step: its idempotency key and the events it publishes
MESSAGE_FIELDS = ("key", "on_success", "on_failure", "on_compensation")
# the order's fields a key template may use, as {name}
KEY_FIELDS = ("order_id", "customer", "sku", "qty", "amount", "correlation_id")
MAX_KEY = 80
MAX_EVENT = 40
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_EVENT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


class DesignSaga(Scenario):
    name = "design_saga"
    title = "Design a saga"
    summary = (
        "Declare the order saga as a list of steps, each with its action and its compensation, chosen "
        "from the operations Order, Inventory and Payment offer, and for each step its idempotency key "
        "and the events it publishes. The simulator runs it for every order with a failure injected at "
        "every step that can fail and lost replies retried with your keys: a payment failure must release "
        "the stock and cancel the order, a success must end CONFIRMED with stock reserved and money "
        "captured, and every change must be announced once."
    )
    lanes = ("saga", "order", "inventory", "payment")
    functions = ("saga", "messages")
    signatures = {
        "saga": "saga()  (returns a list of saga_api.Step)",
        "messages": "messages()  (returns {step name: {key, on_success, on_failure, on_compensation}})",
    }
    invariants = (
        "saga_compensates",
        "orders_resolve",
        "confirmed_is_complete",
        "cancelled_is_clean",
        "conservation",
        "no_double_charge",
        "cancelled_for_a_reason",
        "no_lost_event",
    )
    fault_kinds = ("crash", "request_lost", "reply_lost", "out_of_stock", "declined")
    rpc_ops: dict[tuple[str, str], str | DirectOp] = {
        (service, op): f"{service}_{op}" for service, op in (name.split(".") for name in CATALOGUE)
    }
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
        "no_keys": "cancelled_for_a_reason",
        "key_per_customer": "confirmed_is_complete",
        "one_key_per_order": "orders_resolve",
        "silent_refusal": "no_lost_event",
        "silent_compensation": "no_lost_event",
        "event_id_per_order": "no_lost_event",
        "starter": "orders_resolve",
    }

    MAX_STEPS = MAX_STEPS
    INLINE_RETRIES = INLINE_RETRIES

    def setup(self, world: World) -> None:
        setup_shop(world, data=draw_shop(world))
        answer = effects.pure_response(
            world.guest("saga", {"op": "pure", "fn": "saga", "args": []})
        )
        steps, problems = _validate(answer)
        if not problems:
            problems = _merge_messages(
                steps,
                effects.pure_response(
                    world.guest("messages", {"op": "pure", "fn": "messages", "args": []})
                ),
            )
        world.notes["design_problems"] = problems
        if problems:
            return
        world.notes["steps"] = steps
        for i, oid in enumerate(shop(world)["orders"]):
            world.sched.at(i * 5, self._run, world, oid, steps)

    def _call(
        self, world: World, oid: str, action: str, label: str, key: str | None
    ) -> dict[str, Any]:
        service, op = action.split(".")
        data = shop(world)
        for attempt in range(1, INLINE_RETRIES + 1):
            answer = world.rpc.call(
                "saga",
                f"saga:{oid}:{label}#{attempt}",
                service,
                op,
                dict(data["orders"][oid]),
                key,
                data["corr"][oid],
            )
            if answer["status"] != "timeout":
                return answer
        return answer

    def _run(self, world: World, oid: str, steps: list[dict[str, Any]]) -> None:
        done: list[dict[str, Any]] = []
        for step in steps:
            key = _key(step["key"], shop(world), oid)
            answer = self._call(world, oid, step["action"], step["name"], key)
            result = answer.get("result") or {}
            if answer["status"] == "ok" and result.get("ok"):
                done.append(step)
                _announce(world, oid, step, "on_success", key)
                continue
            why = result.get("status") or answer.get("message") or answer["status"]
            if answer["status"] == "ok" and why in REFUSALS:
                world.notes.setdefault("refused", set()).add(oid)
                _announce(world, oid, step, "on_failure", key)
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
                undo_key = _key(prev["key"], shop(world), oid)
                undo_key = None if undo_key is None else undo_key + ":undo"
                self._call(world, oid, prev["compensation"], "undo-" + prev["name"], undo_key)
                _announce(world, oid, prev, "on_compensation", undo_key)
            return
        status = (world.stores["order"].get("orders", oid) or {}).get("status", "never created")
        if status != "CONFIRMED":
            world.note(
                "saga",
                f"no step failed for {oid}, yet it ended {status}: a saga whose steps all succeed "
                f"must end CONFIRMED",
            )

    def facts(self, world: World) -> dict[str, Any]:
        facts = shop_facts(world)
        facts["saga_compensates"] = world.notes.get("design_problems", []) + world.notes.get(
            "saga", []
        )
        facts["no_lost_event"] = world.notes.get("lost", [])
        refused = world.notes.get("refused", set())
        facts["cancelled_for_a_reason"] = [
            f"{oid} ended CANCELLED, yet no step was refused (out of stock or declined): a step "
            f"failed for another reason (an error on a repeated request is what a retry without "
            f"its own idempotency key runs into)"
            for oid, row in sorted(world.stores["order"].rows("orders").items())
            if row.get("status") == "CANCELLED" and oid not in refused
        ]
        return facts


REFUSALS = ("out_of_stock", "declined")
# the kind of announcement -> what happened, for the lost-event message
_WHAT = {
    "on_success": "succeeded",
    "on_failure": "was refused",
    "on_compensation": "was compensated",
}


def _key(template: str | None, data: dict[str, Any], oid: str) -> str | None:
    """The step's idempotency key for one order: its template with the order's fields filled in."""
    if template is None:
        return None
    fields = {**data["orders"][oid], "correlation_id": data["corr"][oid]}
    return _PLACEHOLDER.sub(lambda m: str(fields[m.group(1)]), template)


def _announce(
    world: World, oid: str, step: dict[str, Any], kind: str, message_id: str | None
) -> None:
    """Publish the event the design names for what just happened to ``step``, or note its loss."""
    event = step[kind]
    if kind == "on_compensation":
        service = step["compensation"].split(".")[0]
    else:
        service = step["action"].split(".")[0]
    corr = shop(world)["corr"][oid]
    lost: list[str] = world.notes.setdefault("lost", [])
    if event is None:
        lost.append(
            f"step {step['name']} ({step['action']}) {_WHAT[kind]} for {oid} and the design "
            f"publishes no event for it (no {kind} in messages()), so no other service hears of it"
        )
        return
    world.log(
        "publish",
        service,
        f"{event} for {oid}",
        {"id": message_id, "correlation_id": corr},
    )
    if message_id is None:
        return
    seen: dict[str, tuple[str, str]] = world.notes.setdefault("event_ids", {})
    first = seen.setdefault(message_id, (oid, event))
    if first != (oid, event):
        lost.append(
            f"{event} for {oid} has the id {message_id!r}, already used by {first[1]} for "
            f"{first[0]}: a consumer that skips ids it has seen drops it"
        )


def _merge_messages(steps: list[dict[str, Any]], answer: dict[str, Any]) -> list[str]:
    """Add each step's key and events from the ``messages()`` answer; return what is wrong."""
    for step in steps:
        step.update(dict.fromkeys(MESSAGE_FIELDS))
    if not answer["ok"]:
        return [f"messages() raised {answer['error']}"]
    value = answer["value"]
    if not isinstance(value, dict):
        return [
            "messages() must return a dict: {step name: {key, on_success, on_failure, on_compensation}}"
        ]
    by_name = {step["name"]: step for step in steps}
    if len(by_name) < len(steps):
        return ["every step needs its own name: messages() finds a step by its name"]
    problems: list[str] = []
    placeholders = ", ".join("{" + f + "}" for f in KEY_FIELDS)
    for name, spec in value.items():
        if name not in by_name:
            problems.append(f"messages() names {name[:60]!r}, which is not a step of saga()")
            continue
        if not isinstance(spec, dict):
            problems.append(f"messages()[{name!r}] must be a dict with {', '.join(MESSAGE_FIELDS)}")
            continue
        for field, text in spec.items():
            if field not in MESSAGE_FIELDS:
                problems.append(
                    f"messages()[{name!r}]: unknown field {str(field)[:30]!r} "
                    f"(use {', '.join(MESSAGE_FIELDS)})"
                )
            elif text is None:
                continue
            elif not isinstance(text, str) or not text:
                problems.append(
                    f"messages()[{name!r}][{field!r}] must be a non-empty string or None"
                )
            elif field == "key":
                rest = _PLACEHOLDER.sub("", text)
                unknown = [f for f in _PLACEHOLDER.findall(text) if f not in KEY_FIELDS]
                if len(text) > MAX_KEY or "{" in rest or "}" in rest or unknown:
                    problems.append(
                        f"messages()[{name!r}]['key'] must be at most {MAX_KEY} characters whose "
                        f"only placeholders are {placeholders}"
                    )
                else:
                    by_name[name]["key"] = text
            elif len(text) > MAX_EVENT or not _EVENT_NAME.fullmatch(text):
                problems.append(
                    f"messages()[{name!r}][{field!r}] must be an event name (letters, digits and _, "
                    f"at most {MAX_EVENT} characters)"
                )
            else:
                by_name[name][field] = text
    return problems


def _validate(answer: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """(the steps of the learner's saga, what is wrong with it) from its ``saga()`` answer."""
    if not answer["ok"]:
        return [], [f"saga() raised {answer['error']}"]
    value = answer["value"]
    if not isinstance(value, list) or not value:
        return [], ["saga() must return a non-empty list of Step(name, action, compensation)"]
    if len(value) > MAX_STEPS:
        return [], [f"saga() returned {len(value)} steps; at most {MAX_STEPS}"]
    steps: list[dict[str, Any]] = []
    problems: list[str] = []
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

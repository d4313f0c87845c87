"""Idempotent payment API: the learner writes Payment's ``charge(request, ctx)``.

Data families. Each schedule draws one of ``DATA_WORLDS`` data sets with the world's seeded
generator (the same seed always gives the same set; the schedules of one grading spread over
all of them), and every set holds every family below; only the details differ:

* **Unpredictable ids.** Order ids (``ord-<hex>``), customer ids (``cus-<hex>``),
  idempotency keys (hex, unrelated to the order) and correlation ids change every schedule:
  nothing can be rebuilt from another field.
* **Customers with several orders.** Three customers place 5-7 payments between them; every
  customer but one has at least two, so a key made of the customer (or the payload) replays the
  wrong payment.
* **Money that runs out.** One customer ("short") can pay for all but their last order, to the
  last unit (a balance exactly equal to an amount must be charged), and nothing is left after:
  a charge whose reply was lost is *under-funded when retried* (checking the balance before the
  key lookup declines a payment that was already taken).
* **A top-up and a second payment with a new key.** Another customer can afford only their
  first order; between 40 and 90 ms (before any retry) money arrives. A declined payment is
  then tried again by the shop with a *new* idempotency key (same payload): a key made of the
  order id (or the payload) replays the old decline, and a decline that was not remembered
  under its key turns into a charge when a lost reply is retried after the top-up.
* **A customer with plenty.** The third customer could pay for everything twice; their first
  order is always the first payment sent (the lesson playground loses its reply).
* **Key reuse** (a fault): after an answer, the buggy client sends the same key again with a
  different payload: the same order with a higher or lower amount (odd payments), or another
  customer's order for the same amount (even payments).
* **Late replies and copies in flight** (faults): a reply lost after the service acted, and a
  second copy of a request arriving while the first is still being handled (``concurrent``).

Every client attempt is recorded with the balance before it, the charge rows it created and
whether its reply was lost, so the invariants can compare every answer with what the server
really did.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from ..base import Scenario

if TYPE_CHECKING:  # the scenario sets up and reads a world
    from ...store import Store
    from ...world import World


RETRY_DELAYS = (100, 200, 400, 800, 1600, 3200)


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class IdempotentCharge(Scenario):
    name = "idempotent_charge"
    title = "Idempotent payment API"
    summary = (
        "Write the Payment service's charge operation. Clients send an idempotency key with each "
        "request and retry with the same key when they time out. A retry must return the original "
        "result without charging again; the same key with a different payload must be rejected."
    )
    lanes = ("client", "payment")
    functions = ("charge",)
    signatures = {"charge": "charge(request, ctx)"}
    invariants = (
        "no_double_charge",
        "retry_gets_same_answer",
        "charge_is_recorded",
        "decline_is_justified",
        "key_reuse_rejected",
        "conservation",
    )
    fault_kinds = ("crash", "request_lost", "reply_lost", "concurrent", "key_reuse")
    rpc_ops = {("payment", "charge"): "charge"}
    expected = {
        "reference": "pass",
        "no_idempotency": "no_double_charge",
        "key_saved_separately": "no_double_charge",
        "ignores_payload": "key_reuse_rejected",
        "check_then_put": "no_double_charge",
        "starter": "no_double_charge",
        "balance_before_key": "retry_gets_same_answer",
        "forgets_refusal": "key_reuse_rejected",
        "keyed_by_order": "decline_is_justified",
        "keyed_by_customer": "decline_is_justified",
        "new_charge_id_on_replay": "retry_gets_same_answer",
    }
    DATA_WORLDS = 8  # data sets the schedules draw from; each has every family (see the docstring)
    TOPUP_FROM_MS = 40
    TOPUP_TO_MS = 90
    RETRIES = len(RETRY_DELAYS)
    FIRST_RETRY_MS = RETRY_DELAYS[0]
    SPACING_MS = 5

    # -- data -----------------------------------------------------------------------------------
    def data(self, world: World) -> dict[str, Any]:
        """This schedule's customers, balances, payments and top-up (see the module docstring)."""
        index = world.rng.getrandbits(64) % self.DATA_WORLDS  # which of this scenario's data sets
        rng = random.Random(f"{self.name}|{index}")
        short, topup, plenty = (f"cus-{_hex(rng, 6)}" for _ in range(3))

        def order(customer: str) -> dict[str, Any]:
            return {
                "order_id": f"ord-{_hex(rng, 6)}",
                "customer": customer,
                "amount": rng.randint(10, 60),
            }

        short_orders = [order(short) for _ in range(rng.randint(2, 3))]
        topup_orders = [order(topup) for _ in range(2)]
        plenty_orders = [order(plenty) for _ in range(rng.randint(1, 2))]
        charged = short_orders[:-1]
        # What is left after the affordable ones is below every amount charged and the last one.
        slack = 0  # the last affordable payment takes the balance to exactly zero
        balances = {short: sum(o["amount"] for o in charged) + slack}
        slack2 = rng.randint(0, min(o["amount"] for o in topup_orders) - 1)
        balances[topup] = topup_orders[0]["amount"] + slack2
        balances[plenty] = 2 * sum(o["amount"] for o in plenty_orders) + rng.randint(
            0, 40
        )  # even a double charge
        topups = [
            (
                rng.randint(self.TOPUP_FROM_MS, self.TOPUP_TO_MS),
                topup,
                topup_orders[1]["amount"] - slack2 + rng.randint(0, 9),
            )
        ]
        rest = short_orders + topup_orders + plenty_orders[1:]
        rng.shuffle(rest)
        # A customer's orders keep their relative order (the balances above assume it).
        by_customer = {
            c: iter(
                [o for o in short_orders + topup_orders + plenty_orders[1:] if o["customer"] == c]
            )
            for c in (short, topup, plenty)
        }
        sequence = [plenty_orders[0]] + [next(by_customer[o["customer"]]) for o in rest]
        payments = []
        for i, o in enumerate(sequence, 1):
            # A reused key carries either this order with another amount, or another order (of another
            # customer, for the same amount): no single field tells a reuse apart.
            other = next(p for p in sequence[i:] + sequence if p["customer"] != o["customer"])
            reuse = (
                {**o, "amount": max(1, o["amount"] + rng.choice([-7, -3, 5, 11]))}
                if i % 2
                else {**other, "amount": o["amount"]}
            )
            payments.append(
                {
                    "label": f"pay-{i}",
                    "data": o,
                    "key": _hex(rng, 16),
                    "again_key": _hex(rng, 16),
                    "reuse_data": reuse,
                    "correlation_id": f"c{_hex(rng, 10)}",
                }
            )
        return {
            "balances": balances,
            "payments": payments,
            "topups": topups,
            "customers": {"short": short, "topup": topup, "plenty": plenty},
        }

    def setup(self, world: World) -> None:
        data = self.data(world)
        world.notes["data"] = [data]
        accounts = world.stores["payment"].table("accounts")
        for customer, balance in data["balances"].items():
            accounts[customer] = {"balance": balance}
        for t, customer, amount in data["topups"]:
            world.sched.at(t, self._topup, world, customer, amount)
        for i, pay in enumerate(data["payments"]):
            world.sched.at(i * self.SPACING_MS, self._attempt, world, dict(pay, kind="first"), 1)

    # -- the trusted client -----------------------------------------------------------------------
    def _topup(self, world: World, customer: str, amount: int) -> None:
        accounts = world.stores["payment"].table("accounts")
        row = accounts.get(customer) or {}
        balance = _int(row.get("balance"))
        if balance is not None:
            accounts[customer] = {
                **row,
                "balance": balance + amount,
            }  # rows are replaced, never mutated
        world.note("topups", (customer, amount))
        world.log("commit", "payment", f"top-up: {customer} paid in {amount}")

    def _balance(self, world: World, customer: str) -> int | None:
        return _int((world.stores["payment"].get("accounts", customer) or {}).get("balance"))

    def _attempt(self, world: World, pay: dict[str, Any], attempt: int) -> None:
        site = (
            f"client:{pay['label']}{'' if pay['kind'] == 'first' else '-' + pay['kind']}#{attempt}"
        )
        data, tag = pay["data"], {"correlation_id": pay["correlation_id"]}
        charges = world.stores["payment"].rows("charges")
        before = set(charges)
        balance = self._balance(world, data["customer"])
        fired = len(world.plan.fired)
        answer = world.rpc.call(
            "client", site, "payment", "charge", data, pay["key"], pay["correlation_id"]
        )
        new_faults = {f["kind"] for f in world.plan.fired[fired:]}
        charges = world.stores["payment"].rows("charges")
        created = sorted(
            k
            for k in set(charges) - before
            if isinstance(charges[k], dict) and charges[k].get("order_id") == data["order_id"]
        )
        world.note(
            "attempts",
            {
                "label": pay["label"],
                "kind": pay["kind"],
                "key": pay["key"],
                "data": data,
                "attempt": attempt,
                "status": answer["status"],
                "result": answer.get("result"),
                "message": answer.get("message"),
                "created": created,
                "balance": balance,
                "after": self._balance(world, data["customer"]),
                "lost": "reply_lost" in new_faults,
                "reached": "request_lost" not in new_faults,
            },
        )
        if answer["status"] == "timeout" and attempt <= len(RETRY_DELAYS):
            delay = RETRY_DELAYS[attempt - 1]
            world.log(
                "retry",
                "client",
                f"timed out; retrying {data['order_id']} with the same key in {delay} ms",
                tag,
            )
            world.sched.after(delay, self._attempt, world, pay, attempt + 1)
            return
        got = answer.get("result")
        result: dict[str, Any] = got if isinstance(got, dict) else {}
        if pay["kind"] != "first":
            return
        if answer["status"] == "ok" and world.plan.fires(
            "key_reuse", f"client:{pay['label']}", world.now
        ):
            # A client bug: the same key sent again with a different amount.
            wrong = pay["reuse_data"]
            world.log(
                "call",
                "client",
                f"bug: reusing key {pay['key']} for {wrong['order_id']}, amount {wrong['amount']}",
                tag,
            )
            world.sched.after(50, self._attempt, world, dict(pay, data=wrong, kind="reuse"), 1)
        topups = [t for t, c, _ in world.notes["data"][0]["topups"] if c == data["customer"]]
        if answer["status"] == "ok" and result.get("status") == "declined" and topups:
            # The shop tries the declined order again once money has arrived: a new payment, a new key.
            again = dict(pay, kind="again", key=pay["again_key"])
            world.log(
                "call",
                "client",
                f"{data['order_id']} was declined: paying again with a new key after the top-up",
                tag,
            )
            world.sched.at(max(world.now, max(topups)) + 30, self._attempt, world, again, 1)

    # -- what happened ----------------------------------------------------------------------------
    def facts(self, world: World) -> dict[str, Any]:
        data = world.notes["data"][0]
        payments = {p["data"]["order_id"]: p for p in data["payments"]}
        owner = {oid: p["data"]["customer"] for oid, p in payments.items()}
        store = world.stores["payment"]
        charges: dict[str, int] = {}
        spent: dict[str, int] = {}
        recorded = []
        for cid, row in sorted(store.rows("charges").items()):
            oid = row.get("order_id") if isinstance(row, dict) else None
            if not isinstance(oid, str):
                continue
            charges[f"order {oid}"] = charges.get(f"order {oid}", 0) + 1
            amount = _int(row.get("amount"))
            if oid in owner:
                spent[owner[oid]] = spent.get(owner[oid], 0) + (amount or 0)
                if amount != payments[oid]["data"]["amount"]:
                    recorded.append(
                        f"charge {cid} for {oid} is for {row.get('amount')!r}, but the order's "
                        f"amount is {payments[oid]['data']['amount']}"
                    )
        attempts: dict[tuple[str, str], list[Any]] = {}
        for a in world.notes.get("attempts", []):
            attempts.setdefault((a["key"], a["kind"]), []).append(a)
        same: list[str] = []
        justified: list[str] = []
        reuse: list[str] = []
        for (key, kind), atts in attempts.items():
            if kind == "reuse":
                self._reuse_facts(atts, reuse)
                continue
            self._answer_facts(key, atts, store, same, recorded, justified)
        for customer, balance in sorted(data["balances"].items()):
            now = self._balance(world, customer)
            if now is not None and now < 0:
                justified.append(
                    f"{customer}'s balance ended at {now}: a payment was charged without enough money"
                )
        topped: dict[str, int] = {}
        for customer, amount in world.notes.get("topups", []):
            topped[customer] = topped.get(customer, 0) + amount
        conservation = [
            (
                f"{c}'s money (balance + charges for their orders)",
                start + topped.get(c, 0),
                (self._balance(world, c) or 0) + spent.get(c, 0),
            )
            for c, start in sorted(data["balances"].items())
        ]
        return {
            "charges": charges,
            "retry_gets_same_answer": same,
            "charge_is_recorded": recorded,
            "decline_is_justified": justified,
            "key_reuse_rejected": reuse,
            "conservation": conservation,
        }

    @staticmethod
    def _answer_facts(
        key: str,
        atts: list[dict[str, Any]],
        store: Store,
        same: list[str],
        recorded: list[str],
        justified: list[str],
    ) -> None:
        data = atts[0]["data"]
        oid, amount, customer = data["order_id"], data["amount"], data["customer"]
        final = atts[-1]
        result = final["result"] if isinstance(final["result"], dict) else {}
        status = result.get("status") if final["status"] == "ok" else None
        for a in atts:
            res = a["result"] if isinstance(a["result"], dict) else {}
            if a["status"] == "ok" and res.get("status") == "charged":
                cid = res.get("charge_id")
                row = store.get("charges", cid) if isinstance(cid, str) else None
                if not isinstance(row, dict) or row.get("order_id") != oid:
                    what = (
                        "no charge with that id"
                        if row is None
                        else f"charge {cid} belongs to {row.get('order_id') if isinstance(row, dict) else '?'}"
                    )
                    recorded.append(
                        f"key {key} for {oid} was answered charged with charge_id {cid!r}, but there "
                        f"is {what}"
                    )
                    break
        if final["status"] != "ok" or status not in ("charged", "declined"):
            got = final["message"] if final["status"] != "ok" else result
            justified.append(
                f"the payment for {oid} (key {key}) got {got!r} instead of charged or declined"
            )
        # The first answer the service gave (delivered, or lost on the way back) decides every later one.
        created, first = [], None
        for i, a in enumerate(atts):
            created += a["created"]
            if a["status"] in ("ok", "error") or a["lost"]:
                first = i
                break
        later = [
            c for a in atts[(first if first is not None else len(atts)) + 1 :] for c in a["created"]
        ]
        if created:
            if status != "charged" or result.get("charge_id") != created[0]:
                same.append(
                    f"the service charged {oid} as {created[0]} for key {key}, but the client's "
                    f"{'retry' if len(atts) > 1 else 'request'} was answered {result or final['message']!r}"
                )
        elif later and first is not None:
            same.append(
                f"the first request with key {key} for {oid} was answered without a charge (that answer "
                f"was lost), but a retry with the same key charged it: a refusal must be replayed too"
            )
        for j, a in enumerate(atts):
            res = a["result"] if isinstance(a["result"], dict) else {}
            if a["status"] == "ok" and res.get("status") == "declined":
                seen = [
                    b["balance"] for b in atts[: j + 1] if b["reached"] and b["balance"] is not None
                ]
                if seen and min(seen) >= amount:
                    justified.append(
                        f"the payment for {oid} ({amount}, key {key}) was declined although "
                        f"{customer}'s balance was {min(seen)} whenever the request reached the service"
                    )
                break
        for a in atts:
            if a["after"] is not None and a["after"] < 0:
                justified.append(
                    f"{customer}'s balance went to {a['after']} charging {oid}: a payment was charged "
                    f"without enough money"
                )
                break

    @staticmethod
    def _reuse_facts(atts: list[dict[str, Any]], reuse: list[str]) -> None:
        final = atts[-1]
        data = final["data"]
        result = final["result"] if isinstance(final["result"], dict) else {}
        if final["status"] == "ok" and "error" not in result:
            reuse.append(
                f"key {final['key']} was reused for {data['order_id']} with amount {data['amount']} and "
                f"the service answered {result} instead of an error"
            )
        made = [c for a in atts for c in a["created"]]
        if made:
            reuse.append(
                f"key {final['key']} was reused with a different payload and the service charged again "
                f"({', '.join(made)})"
            )

    def statement_constants(self) -> dict[str, int | float | str]:
        out = super().statement_constants()
        out["RETRY_DELAYS"] = ", ".join(map(str, RETRY_DELAYS))
        return out


SCENARIO = IdempotentCharge()

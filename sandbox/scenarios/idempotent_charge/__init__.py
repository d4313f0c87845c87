from ..base import Scenario

RETRY_DELAYS = (100, 200, 400, 800, 1600, 3200)


class IdempotentCharge(Scenario):
    name = "idempotent_charge"
    title = "Idempotent payment API"
    summary = ("Write the Payment service's charge operation. Clients send an idempotency key with each "
               "request and retry with the same key when they time out. A retry must return the original "
               "result without charging again; the same key with a different payload must be rejected.")
    lanes = ("client", "payment")
    functions = ("charge",)
    signatures = {"charge": "charge(request, ctx)"}
    invariants = ("no_double_charge", "retry_gets_same_answer", "key_reuse_rejected", "conservation")
    fault_kinds = ("crash", "request_lost", "reply_lost", "concurrent", "key_reuse")
    rpc_ops = {("payment", "charge"): "charge"}
    expected = {"reference": "pass", "no_idempotency": "no_double_charge",
                "key_saved_separately": "no_double_charge", "ignores_payload": "key_reuse_rejected",
                "check_then_put": "no_double_charge", "starter": "no_double_charge"}
    ORDERS = {"o1": ("alice", 30), "o2": ("bob", 45)}
    BALANCE = 100

    def setup(self, world):
        accounts = world.stores["payment"].table("accounts")
        for customer, _ in self.ORDERS.values():
            accounts[customer] = {"balance": self.BALANCE}
        for i, (oid, (customer, amount)) in enumerate(self.ORDERS.items()):
            data = {"order_id": oid, "customer": customer, "amount": amount}
            world.sched.at(i * 5, self._attempt, world, oid, data, 1, False)

    def _attempt(self, world, oid, data, attempt, reuse):
        site = f"client:{oid}{'-reuse' if reuse else ''}#{attempt}"
        answer = world.rpc.call("client", site, "payment", "charge", data, f"key-{oid}", f"corr-{oid}")
        if answer["status"] == "timeout" and attempt <= len(RETRY_DELAYS):
            delay = RETRY_DELAYS[attempt - 1]
            world.log("retry", "client", f"timed out; retrying {oid} with the same key in {delay} ms",
                      {"correlation_id": f"corr-{oid}"})
            world.sched.after(delay, self._attempt, world, oid, data, attempt + 1, reuse)
            return
        world.note("reuse_answers" if reuse else "answers", (oid, answer))
        if not reuse and answer["status"] == "ok" and world.plan.fires("key_reuse", f"client:{oid}", world.now):
            # A client bug: the same key sent again with a different amount.
            world.log("call", "client", f"bug: reusing key-{oid} with a different amount",
                      {"correlation_id": f"corr-{oid}"})
            world.sched.after(50, self._attempt, world, oid, {**data, "amount": data["amount"] + 5}, 1, True)

    def facts(self, world):
        charges: dict[str, int] = {}
        total = 0
        for row in world.stores["payment"].rows("charges").values():
            charges[row.get("order_id")] = charges.get(row.get("order_id"), 0) + 1
            total += row.get("amount", 0) if isinstance(row.get("amount"), int) else 0
        balances = sum(r.get("balance", 0) for r in world.stores["payment"].rows("accounts").values())
        same, reuse = [], []
        answers = world.notes.get("answers", [])
        for oid in self.ORDERS:
            mine = [a for o, a in answers if o == oid]
            if not mine or mine[-1]["status"] != "ok":
                status = mine[-1].get("message") or mine[-1]["status"] if mine else "nothing"
                same.append(f"the client never got a successful answer for {oid} (got {status})")
        for oid, answer in world.notes.get("reuse_answers", []):
            first = [a for o, a in answers if o == oid and a["status"] == "ok"]
            result = answer.get("result") or {}
            if answer["status"] == "ok" and "error" not in result:
                reuse.append(f"key-{oid} was reused with a different amount and the server answered "
                             f"{result} instead of rejecting it")
        for row in world.stores["payment"].rows("charges").values():
            oid = row.get("order_id")
            if oid in self.ORDERS and row.get("amount") != self.ORDERS[oid][1]:
                reuse.append(f"{oid} was charged {row.get('amount')} by a request that reused its key")
        return {"charges": charges, "retry_gets_same_answer": same, "key_reuse_rejected": reuse,
                "conservation": [("money (balances + charges)", self.BALANCE * len(self.ORDERS),
                                  balances + total)]}


SCENARIO = IdempotentCharge()

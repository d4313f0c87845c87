from ..base import Scenario, send_commands

ORDERS = {"o1": 40, "o2": 25, "o3": 10, "o4": 55}


class PoisonMessage(Scenario):
    name = "poison_message"
    title = "Poison messages and the dead-letter queue"
    summary = ("The Billing service consumes OrderPlaced events in order, one at a time. Some producers send "
               "malformed events that can never be processed; the FX service it calls sometimes times out. "
               "Write the consumer (and set MAX_ATTEMPTS, the retry cap before the dead-letter queue) so that "
               "poison goes to the DLQ quickly, transient failures are retried, and good events are never lost.")
    lanes = ("producer", "billing", "fx")
    functions = ("on_order_placed",)
    signatures = {"on_order_placed": "on_order_placed(event, ctx)"}
    invariants = ("poison_isolated", "no_lost_event")
    fault_kinds = ("crash", "duplicate", "request_lost", "malformed")
    rpc_ops = {("fx", "rate"): lambda world, data: {"currency": data.get("currency"), "rate": 2}}
    expected = {"reference": "pass", "retry_forever": "poison_isolated", "swallow_errors": "poison_isolated",
                "transient_to_dlq": "poison_isolated", "starter": "poison_isolated"}

    def configure(self, world, constants):
        cap = constants.get("MAX_ATTEMPTS", 5)
        world.broker.max_attempts = cap if isinstance(cap, int) and not isinstance(cap, bool) and cap > 0 else None

    def setup(self, world):
        world.broker.subscribe("OrderPlaced", "billing", "on_order_placed", ordered=True)
        commands, poison = [], set()
        for oid, amount in ORDERS.items():
            data = {"order_id": oid, "amount": amount, "currency": "EUR"}
            if world.plan.fires("malformed", f"producer:{oid}", 0):
                data = {"order_id": oid, "amount": f"{amount} EUR"}       # a producer bug
                poison.add(oid)
            commands.append(("OrderPlaced", data, f"corr-{oid}"))
        world.notes["poison"] = sorted(poison)
        send_commands(world, "producer", commands)

    def facts(self, world):
        poison = set(world.notes.get("poison", []))
        booked = {row.get("order_id") for row in world.stores["billing"].rows("ledger").values()}
        dead = {msg["data"].get("order_id"): why for _, msg, why in world.broker.dlq}
        isolated, lost = [], []
        for oid in ORDERS:
            if oid in poison:
                if oid not in dead:
                    isolated.append(f"the malformed event for {oid} " + (
                        "was dropped silently (not in the dead-letter queue)" if world.finished else
                        "is still being retried, blocking the events queued behind it"))
            elif oid in dead:
                isolated.append(f"the good event for {oid} was dead-lettered: {dead[oid]}")
            elif oid not in booked:
                lost.append(f"the event for {oid} was never booked in the ledger")
        return {"poison_isolated": isolated, "no_lost_event": lost}


SCENARIO = PoisonMessage()

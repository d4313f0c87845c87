from ..base import Scenario, send_commands

BANKS = ("bank_a", "bank_b")
TRANSFERS = {
    "x1": {"transfer_id": "x1", "changes": {"bank_a": {"account": "alice", "delta": -30},
                                            "bank_b": {"account": "bob", "delta": 30}}},
    "x2": {"transfer_id": "x2", "changes": {"bank_a": {"account": "alice", "delta": 20},
                                            "bank_b": {"account": "bob", "delta": -20}}},
}
BALANCE = 100


class TwoPhaseCommit(Scenario):
    name = "two_phase_commit"
    title = "Two-phase commit coordinator"
    summary = ("Write the coordinator of a money transfer between two banks with two-phase commit: ask "
               "both to prepare, decide, make the decision durable, then tell both. The coordinator crashes "
               "and its command is redelivered; messages are lost. Participants must all commit or all abort "
               "and none may be left blocked in PREPARED, holding its lock.")
    lanes = ("client", "coordinator", "bank_a", "bank_b")
    functions = ("transfer",)
    signatures = {"transfer": "transfer(command, ctx)"}
    invariants = ("twopc_agreement", "conservation", "correlation_ids_present")
    fault_kinds = ("crash", "duplicate", "request_lost", "reply_lost", "vote_no")
    rpc_ops = {(bank, op): f"participant_{op}" for bank in BANKS for op in ("prepare", "commit", "abort")}
    expected = {"reference": "pass", "no_decision_log": "twopc_agreement", "coordinator_crash": "twopc_agreement",
                "starter": "twopc_agreement"}
    trace_kinds = {"prepare": "prepare", "commit": "decide", "abort": "decide"}

    def setup(self, world):
        world.broker.subscribe("Transfer", "coordinator", "transfer")
        world.stores["bank_a"].table("accounts")["alice"] = {"balance": BALANCE, "locked_by": None}
        world.stores["bank_b"].table("accounts")["bob"] = {"balance": BALANCE, "locked_by": None}
        for bank in BANKS:
            refuse = world.stores[bank].table("refuse")
            for xid in TRANSFERS:
                if world.plan.fires("vote_no", f"{bank}:{xid}", 0):
                    refuse[xid] = {}
        if world.plan.fires("coordinator_down", "coordinator", 0):
            # The coordinator dies shortly after starting and does not come back in time.
            world.outages["coordinator"] = [(25, 10 ** 9)]
        send_commands(world, "client", [("Transfer", dict(x), f"corr-{xid}") for xid, x in TRANSFERS.items()])

    def facts(self, world):
        problems = []
        for xid in TRANSFERS:
            states = {bank: (world.stores[bank].get("txns", xid) or {}).get("state", "never prepared")
                      for bank in BANKS}
            for bank, state in states.items():
                if state == "PREPARED":
                    problems.append(f"{bank} is blocked: still PREPARED for {xid}, holding its lock")
                    world.log("blocked", bank, f"still PREPARED for {xid}: holding the lock, waiting for a decision",
                              {"correlation_id": f"corr-{xid}"})
            if "COMMITTED" in states.values() and set(states.values()) != {"COMMITTED"}:
                problems.append(f"participants disagree on {xid}: " +
                                ", ".join(f"{b} {s}" for b, s in states.items()))
        total = sum(r.get("balance", 0) for bank in BANKS for r in world.stores[bank].rows("accounts").values())
        return {"twopc_agreement": problems,
                "conservation": [("money across both banks", 2 * BALANCE, total)]}


SCENARIO = TwoPhaseCommit()

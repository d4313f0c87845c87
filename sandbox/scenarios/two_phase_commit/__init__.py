"""Two-phase commit: the learner writes the coordinator of money transfers between two banks.

Participants (trusted, ``world.py``) keep ``txns[transfer_id] {state: PREPARED | COMMITTED |
ABORTED, account, delta}`` and ``accounts[name] {balance, locked_by}``. ``prepare`` locks the
account and votes yes, or records ABORTED and votes no with a reason; ``commit`` applies the
delta and unlocks; ``abort`` unlocks (or, for a transfer it never saw, records ABORTED so a
late prepare votes no). All three are idempotent and answer from the recorded state.

Data families (drawn from ``world.rng``; the same seed gives the same world):

* ``TRANSFERS_MIN`` to ``TRANSFERS_MAX`` transfers with unpredictable ids (``t-<hex>``) and
  correlation ids (``c-<hex>``, not derived from the transfer id), amounts from
  ``AMOUNT_MIN`` to ``AMOUNT_MAX`` in either direction;
* transfers share accounts (two accounts per bank), so one transfer's lock makes another's
  prepare vote no (``reason: "locked"``, transient: the account is busy, not broken);
* balances from ``BALANCE_MIN`` to ``BALANCE_MAX``, so a debit can be refused for lack of
  money (``reason: "insufficient_funds"``, permanent); fault ``vote_no`` makes a bank refuse
  a transfer outright (``reason: "refused"``, permanent);
* late requests: for about ``LATE_PREPARE_PERCENT``% of worlds, a copy of one of the
  coordinator's prepare requests reaches its bank late (``LATE_PREPARE_MIN_MS`` to
  ``LATE_PREPARE_MAX_MS``), possibly after the coordinator gave up on it; faults
  ``request_lost`` / ``reply_lost`` (a lost reply: the bank acted) and coordinator crashes
  with redelivery of its command.

Graded: ``twopc_agreement`` (per transfer, all banks COMMITTED or none; none left PREPARED
holding its lock at the end, also under ids the client never sent; no lock left behind),
``twopc_commits`` (a transfer commits unless a bank voted no, a fault hid a vote (a lost
prepare request or reply, a bank crash while preparing) or the coordinator crashed handling it), ``conservation`` (money across both
banks), correlation ids on every call, and ``settles``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..base import Scenario, send_commands

if TYPE_CHECKING:  # the scenario sets up and reads a world
    from ...world import World


BANKS = ("bank_a", "bank_b")


class TwoPhaseCommit(Scenario):
    name = "two_phase_commit"
    title = "Two-phase commit coordinator"
    summary = (
        "Write the coordinator of money transfers between two banks with two-phase commit: ask both to "
        "prepare, decide, make the decision durable, then tell both. The coordinator crashes and its command "
        "is redelivered; requests and replies are lost; transfers compete for the same accounts. Participants "
        "must all commit or all abort and none may be left blocked in PREPARED, holding its lock."
    )
    lanes = ("client", "coordinator", "bank_a", "bank_b")
    functions = ("transfer",)
    signatures = {"transfer": "transfer(command, ctx)"}
    invariants = ("twopc_agreement", "twopc_commits", "conservation", "correlation_ids_present")
    fault_kinds = ("crash", "duplicate", "request_lost", "reply_lost", "vote_no")
    rpc_ops = {
        (bank, op): f"participant_{op}" for bank in BANKS for op in ("prepare", "commit", "abort")
    }
    expected = {
        "reference": "pass",
        "no_decision_log": "twopc_agreement",
        "coordinator_crash": "twopc_agreement",
        "abort_only_yes_voters": "twopc_agreement",
        "any_yes_commits": "twopc_agreement",
        "log_after_send": "twopc_agreement",
        "timeout_counts_as_yes": "twopc_agreement",
        "phase_two_not_retried": "twopc_agreement",
        "votes_compared_wrongly": "twopc_commits",
        "starter": "twopc_agreement",
    }
    trace_kinds = {"prepare": "prepare", "commit": "decide", "abort": "decide"}

    TRANSFERS_MIN = 2
    TRANSFERS_MAX = 4
    AMOUNT_MIN = 10
    AMOUNT_MAX = 80
    BALANCE_MIN = 30
    BALANCE_MAX = 120
    COMMAND_SPACING_MS = 20
    LATE_PREPARE_PERCENT = 40
    LATE_PREPARE_MIN_MS = 200
    LATE_PREPARE_MAX_MS = 2_500
    ACCOUNTS = {"bank_a": ("alice", "carol"), "bank_b": ("bob", "dave")}

    def statement_constants(self) -> dict[str, int | float | str]:
        from ...broker import DEFAULT_MAX_ATTEMPTS, VISIBILITY_TIMEOUT

        out = super().statement_constants()
        out.update(MAX_DELIVERIES=DEFAULT_MAX_ATTEMPTS, REDELIVERY_MS=VISIBILITY_TIMEOUT)
        return out

    def draw(self, world: World) -> dict[str, Any]:
        """This schedule's data: every draw happens whatever the faults are."""
        rng = world.rng
        balances = {
            bank: {
                name: rng.randint(self.BALANCE_MIN, self.BALANCE_MAX)
                for name in self.ACCOUNTS[bank]
            }
            for bank in BANKS
        }
        transfers = {}
        for _ in range(rng.randint(self.TRANSFERS_MIN, self.TRANSFERS_MAX)):
            xid = f"t-{rng.getrandbits(24):06x}"
            amount = rng.randint(self.AMOUNT_MIN, self.AMOUNT_MAX) * rng.choice((-1, 1))
            transfers[xid] = {
                "transfer_id": xid,
                "changes": {
                    "bank_a": {"account": rng.choice(self.ACCOUNTS["bank_a"]), "delta": amount},
                    "bank_b": {"account": rng.choice(self.ACCOUNTS["bank_b"]), "delta": -amount},
                },
                "corr": f"c-{rng.getrandbits(32):08x}",
            }
        late = None
        if rng.random() * 100 < self.LATE_PREPARE_PERCENT:
            late = (
                rng.choice(sorted(transfers)),
                rng.choice(BANKS),
                rng.randint(self.LATE_PREPARE_MIN_MS, self.LATE_PREPARE_MAX_MS),
            )
        return {"balances": balances, "transfers": transfers, "late": late}

    def setup(self, world: World) -> None:
        data = self.draw(world)
        transfers = data["transfers"]
        world.notes["transfers"] = [transfers]
        world.broker.subscribe("Transfer", "coordinator", "transfer")
        total = 0
        for bank in BANKS:
            accounts = world.stores[bank].table("accounts")
            for name, balance in data["balances"][bank].items():
                accounts[name] = {"balance": balance, "locked_by": None}
                total += balance
            refuse = world.stores[bank].table("refuse")
            for xid in transfers:
                if world.plan.fires("vote_no", f"{bank}:{xid}", 0):
                    refuse[xid] = {}
        world.notes["total"] = [total]
        if world.plan.fires("coordinator_down", "coordinator", 0):
            # The coordinator dies shortly after starting and does not come back in time.
            world.outages["coordinator"] = [(25, 10**9)]
        commands = [
            ("Transfer", {k: x[k] for k in ("transfer_id", "changes")}, x["corr"])
            for x in transfers.values()
        ]
        send_commands(world, "client", commands, spacing=self.COMMAND_SPACING_MS)
        world.notes["commands"] = [
            {xid: f"cmd-{i + 1}" for i, xid in enumerate(transfers)}
        ]  # send_commands' ids
        if data["late"]:
            xid, bank, at = data["late"]
            world.sched.at(at, self._late_prepare, world, xid, bank)

    def _late_prepare(self, world: World, xid: str, bank: str) -> None:
        """A copy of the coordinator's prepare request for ``xid`` reaches ``bank`` only now."""
        for c in world.rpc.calls:
            if (
                c["service"] == bank
                and c["op"] == "prepare"
                and c["caller"] == "coordinator"
                and isinstance(c["data"], dict)
                and c["data"].get("transfer_id") == xid
            ):
                world.log(
                    "delay",
                    bank,
                    f"a copy of the prepare request for {xid} arrives late",
                    {"correlation_id": c["correlation_id"]},
                )
                world.rpc.call(
                    "coordinator",
                    f"late:{xid}",
                    bank,
                    "prepare",
                    c["data"],
                    c["idempotency_key"],
                    c["correlation_id"],
                )
                return

    def _abort_excused(self, world: World, xid: str) -> bool:
        """May this transfer be aborted although no bank voted no? Yes if a fault hid a vote from the
        coordinator (a lost prepare request or reply, a bank that crashed while preparing) or the coordinator
        itself crashed while handling it (it may presume abort for an undecided transfer)."""
        handler = f"coordinator.transfer:{world.notes['commands'][0][xid]}#"
        for f in world.plan.fired:
            site = f["site"]
            if f["kind"] == "crash" and site.startswith(handler) and ">" not in site:
                return True
            if (
                f["kind"] in ("request_lost", "reply_lost", "crash")
                and ".prepare#" in site
                and site.startswith((handler, f"late:{xid}>"))
            ):
                return True
        return False

    def facts(self, world: World) -> dict[str, Any]:
        transfers = world.notes["transfers"][0]
        problems = []
        # Every transaction a bank knows, also one under an id the client never sent (a coordinator that
        # invents its own ids must still finish what it started).
        known = [
            xid for bank in BANKS for xid in world.stores[bank].rows("txns") if xid not in transfers
        ]
        everything = dict(transfers, **{xid: {"corr": None} for xid in sorted(set(known))})
        for xid, x in everything.items():
            states = {}
            for bank in BANKS:
                row = world.stores[bank].get("txns", xid)
                states[bank] = (
                    row.get("state", "never prepared")
                    if isinstance(row, dict)
                    else "never prepared"
                )
            for bank, state in states.items():
                if state == "PREPARED":
                    problems.append(
                        f"{bank} is blocked: still PREPARED for {xid}, holding its lock"
                    )
                    world.log(
                        "blocked",
                        bank,
                        f"still PREPARED for {xid}: holding the lock, waiting for a decision",
                        {"correlation_id": x["corr"]},
                    )
            if "COMMITTED" in states.values() and set(states.values()) != {"COMMITTED"}:
                problems.append(
                    f"participants disagree on {xid}: "
                    + ", ".join(f"{b} {s}" for b, s in states.items())
                )
        commits = []
        for xid in transfers:
            rows = {bank: world.stores[bank].get("txns", xid) or {} for bank in BANKS}
            if all(r.get("state") == "COMMITTED" for r in rows.values()):
                continue
            if any(r.get("voted") == "no" for r in rows.values()) or self._abort_excused(
                world, xid
            ):
                continue
            found = ", ".join(f"{b} {r.get('state', 'never prepared')}" for b, r in rows.items())
            commits.append(
                f"{xid} did not commit ({found}) although no bank voted no, every vote could be "
                f"heard and the coordinator did not crash"
            )
        for bank in BANKS:
            for name, account in sorted(world.stores[bank].rows("accounts").items()):
                holder = account.get("locked_by")
                if (
                    holder
                    and (world.stores[bank].get("txns", holder) or {}).get("state") != "PREPARED"
                ):
                    problems.append(f"{bank} still locks {name}'s account for {holder}")
        total = sum(
            r.get("balance", 0)
            for bank in BANKS
            for r in world.stores[bank].rows("accounts").values()
        )
        return {
            "twopc_agreement": problems,
            "twopc_commits": commits,
            "conservation": [("money across both banks", world.notes["total"][0], total)],
        }


SCENARIO = TwoPhaseCommit()

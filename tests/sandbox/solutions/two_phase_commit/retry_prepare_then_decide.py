# Retries a prepare that timed out (a few times, through RetryLater) before voting no, and keeps phase and decision in one coordinator row.
from saga_api import DuplicateKey, Timeout, RetryLater

PARTICIPANTS = ("bank_a", "bank_b")
PREPARE_TRIES = 3


def transfer(command, ctx):
    xid = command.data["transfer_id"]
    corr = command.correlation_id
    try:
        with ctx.db.transaction() as tx:
            tx.insert("coordinator", xid, {"phase": "preparing", "tries": 0, "decision": None})
    except DuplicateKey:
        pass
    row = ctx.db.get("coordinator", xid)
    if row["phase"] == "done":
        return
    if row["decision"] is None:
        votes = []
        for p in PARTICIPANTS:
            try:
                votes.append(ctx.call(p, "prepare", command.data, correlation_id=corr)["vote"])
            except Timeout:
                votes.append("timeout")
        if "timeout" in votes and "no" not in votes and row["tries"] + 1 < PREPARE_TRIES:
            with ctx.db.transaction() as tx:
                tx.update("coordinator", xid, tries=row["tries"] + 1)
            raise RetryLater(200)
        decision = "commit" if all(v == "yes" for v in votes) else "abort"
        with ctx.db.transaction() as tx:
            tx.update("coordinator", xid, phase="deciding", decision=decision)
    else:
        decision = row["decision"]
    for p in PARTICIPANTS:
        try:
            ctx.call(p, decision, command.data, correlation_id=corr)
        except Timeout:
            raise RetryLater(300)
    with ctx.db.transaction() as tx:
        tx.update("coordinator", xid, phase="done")

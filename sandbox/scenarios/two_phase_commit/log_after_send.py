from saga_api import Timeout, RetryLater

PARTICIPANTS = ["bank_a", "bank_b"]


def transfer(command, ctx):
    xid = command.data["transfer_id"]
    corr = command.correlation_id
    logged = ctx.db.get("decisions", xid)
    if logged:
        return
    votes = []
    for p in PARTICIPANTS:
        try:
            votes.append(ctx.call(p, "prepare", command.data, correlation_id=corr)["vote"])
        except Timeout:
            votes.append("no")
    decision = "commit" if votes == ["yes"] * len(PARTICIPANTS) else "abort"
    try:
        for p in PARTICIPANTS:
            ctx.call(p, decision, command.data, correlation_id=corr)
    except Timeout:
        raise RetryLater(300)
    # Bug: the decision is written down only after everyone was told. A crash in between
    # leaves no record: the restarted coordinator asks again, a bank that already committed
    # answers "no", and the other one is aborted.
    with ctx.db.transaction() as tx:
        tx.insert("decisions", xid, {"decision": decision})

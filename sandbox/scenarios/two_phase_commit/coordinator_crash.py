from saga_api import DuplicateKey, Timeout

PARTICIPANTS = ["bank_a", "bank_b"]


def transfer(command, ctx):
    # Bug: a coordinator that crashes after the prepare phase never finishes the
    # job: on restart it sees the transfer "started" and walks away, leaving the
    # participants PREPARED, holding their locks (the blocking problem of 2PC).
    xid = command.data["transfer_id"]
    corr = command.correlation_id
    try:
        with ctx.db.transaction() as tx:
            tx.insert("started", xid, {})
    except DuplicateKey:
        return
    votes = []
    for p in PARTICIPANTS:
        try:
            votes.append(ctx.call(p, "prepare", command.data, correlation_id=corr)["vote"])
        except Timeout:
            votes.append("no")
    decision = "commit" if votes == ["yes"] * len(PARTICIPANTS) else "abort"
    for p in PARTICIPANTS:
        try:
            ctx.call(p, decision, command.data, correlation_id=corr)
        except Timeout:
            pass

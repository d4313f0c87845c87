from saga_api import Timeout, RetryLater

PARTICIPANTS = ["bank_a", "bank_b"]


def transfer(command, ctx):
    xid = command.data["transfer_id"]
    corr = command.correlation_id
    logged = ctx.db.get("decisions", xid)
    if logged:
        decision = logged["decision"]            # recovering: re-send the durable decision
    else:
        votes = []
        for p in PARTICIPANTS:
            try:
                votes.append(ctx.call(p, "prepare", command.data, correlation_id=corr)["vote"])
            except Timeout:
                votes.append("no")               # no answer counts as no
        # Bug: compares the list of votes with a single string, so it never commits.
        decision = "commit" if votes == "yes" else "abort"
        # The decision is durable before anyone hears it.
        with ctx.db.transaction() as tx:
            tx.insert("decisions", xid, {"decision": decision})
    try:
        for p in PARTICIPANTS:
            ctx.call(p, decision, command.data, correlation_id=corr)
    except Timeout:
        raise RetryLater(300)                    # keep telling them until they hear it

from saga_api import Timeout, RetryLater

PARTICIPANTS = ["bank_a", "bank_b"]


def transfer(command, ctx):
    xid = command.data["transfer_id"]
    corr = command.correlation_id
    logged = ctx.db.get("decisions", xid)
    if logged:
        decision, tell = logged["decision"], logged["tell"]
    else:
        yes = []
        for p in PARTICIPANTS:
            try:
                if ctx.call(p, "prepare", command.data, correlation_id=corr)["vote"] == "yes":
                    yes.append(p)
            except Timeout:
                pass
        decision = "commit" if len(yes) == len(PARTICIPANTS) else "abort"
        # Bug: an abort is sent only to the banks that voted yes. A bank whose yes was lost
        # on the way back (or whose prepare arrives late) stays PREPARED, holding its lock.
        tell = PARTICIPANTS if decision == "commit" else yes
        with ctx.db.transaction() as tx:
            tx.insert("decisions", xid, {"decision": decision, "tell": tell})
    try:
        for p in tell:
            ctx.call(p, decision, command.data, correlation_id=corr)
    except Timeout:
        raise RetryLater(300)

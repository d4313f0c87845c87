# Presumed abort: only a commit decision is logged; a restart without a logged commit re-runs phase one, and any doubt means abort.
from saga_api import Timeout, RetryLater

BANKS = ("bank_a", "bank_b")


def transfer(command, ctx):
    xid = command.data["transfer_id"]
    corr = command.correlation_id
    if ctx.db.get("commits", xid):
        tell(ctx, command, "commit")
        return
    votes = {}
    for bank in BANKS:
        try:
            votes[bank] = ctx.call(bank, "prepare", command.data, correlation_id=corr).get("vote")
        except Timeout:
            votes[bank] = None
    if all(v == "yes" for v in votes.values()):
        with ctx.db.transaction() as tx:
            tx.put("commits", xid, {"at": ctx.now})
        tell(ctx, command, "commit")
    else:
        tell(ctx, command, "abort")


def tell(ctx, command, decision):
    pending = []
    for bank in BANKS:
        try:
            ctx.call(bank, decision, command.data, correlation_id=command.correlation_id)
        except Timeout:
            pending.append(bank)
    if pending:
        raise RetryLater(250)

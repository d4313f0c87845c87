from saga_api import Timeout, RetryLater

PARTICIPANTS = ["bank_a", "bank_b"]


def transfer(command, ctx):
    # Bug: the decision is never written down. After a crash in phase two, the
    # restarted coordinator asks again, gets a different answer from a participant
    # that already committed, and aborts the other one.
    corr = command.correlation_id
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

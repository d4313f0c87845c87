PARTICIPANTS = ["bank_a", "bank_b"]


def transfer(command, ctx):
    # Phase one: ask everyone to prepare. Phase two: tell everyone the outcome.
    # What if a call times out? What if this coordinator crashes half way?
    corr = command.correlation_id
    votes = [ctx.call(p, "prepare", command.data, correlation_id=corr)["vote"] for p in PARTICIPANTS]
    decision = "commit" if all(v == "yes" for v in votes) else "abort"
    for p in PARTICIPANTS:
        ctx.call(p, decision, command.data, correlation_id=corr)

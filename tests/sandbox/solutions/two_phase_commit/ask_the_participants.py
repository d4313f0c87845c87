# Keeps no decision log at all: on every (re)delivery it re-asks both banks and derives the one safe decision from their recorded states.
from saga_api import Timeout, RetryLater


def transfer(command, ctx):
    banks = sorted(command.data["changes"])
    answers = {}
    for bank in banks:
        try:
            answers[bank] = ctx.call(bank, "prepare", command.data, correlation_id=command.correlation_id)
        except Timeout:
            answers[bank] = {"vote": "unknown"}
    states = {a.get("state") for a in answers.values()}
    votes = {a.get("vote") for a in answers.values()}
    if "COMMITTED" in states:
        decision = "commit"          # someone was already told to commit: finish the job
    elif "no" in votes:
        decision = "abort"           # nobody can have committed while a bank says no
    elif votes == {"yes"}:
        decision = "commit"
    else:
        raise RetryLater(300)        # a bank did not answer: it may have committed, so ask again
    try:
        for bank in banks:
            ctx.call(bank, decision, command.data, correlation_id=command.correlation_id)
    except Timeout:
        raise RetryLater(400)

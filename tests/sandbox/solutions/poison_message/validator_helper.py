# A separate validator, a smaller cap (3) and a shorter RetryLater; FX refusals told apart by their error text.
from saga_api import Poison, RetryLater, Timeout

MAX_ATTEMPTS = 3


def _problem(data):
    amount, currency = data.get("amount"), data.get("currency")
    if isinstance(amount, bool) or not isinstance(amount, int):
        return f"amount {amount!r} is not a whole number"
    if amount <= 0:
        return f"amount {amount} is not positive"
    if not isinstance(currency, str) or currency == "":
        return "no currency"
    return None


def on_order_placed(event, ctx):
    problem = _problem(event.data)
    if problem:
        raise Poison(problem)
    try:
        answer = ctx.call("fx", "rate", {"currency": event.data["currency"]}, correlation_id=event.correlation_id)
    except Timeout:
        raise RetryLater(100)
    error = answer.get("error")
    if error == "unknown_currency":
        raise Poison(f"FX does not know {event.data['currency']}")
    if error is not None:
        raise RetryLater(100)
    order_id = event.data["order_id"]
    with ctx.db.transaction() as tx:
        if tx.get("ledger", order_id) is None:
            tx.insert("ledger", order_id, {"order_id": order_id, "usd": event.data["amount"] * answer["rate"]})

# No retry cap at all (MAX_ATTEMPTS = None): everything permanent is raised as Poison explicitly, the rest waits.
from saga_api import Poison, RetryLater, Timeout

MAX_ATTEMPTS = None


def on_order_placed(event, ctx):
    data = event.data
    try:
        amount = data["amount"]
        currency = data["currency"]
        assert type(amount) is int and amount > 0 and isinstance(currency, str) and currency
    except (KeyError, AssertionError):
        raise Poison(f"bad OrderPlaced {data!r}")
    try:
        fx = ctx.call("fx", "rate", {"currency": currency}, correlation_id=event.correlation_id)
    except Timeout:
        raise RetryLater(250)
    if fx.get("error") == "unknown_currency":
        raise Poison(f"unknown currency {currency}")
    if "rate" not in fx:
        raise RetryLater(250)
    with ctx.db.transaction() as tx:
        if not tx.get("ledger", data["order_id"]):
            tx.insert("ledger", data["order_id"], {"order_id": data["order_id"], "usd": amount * fx["rate"]})

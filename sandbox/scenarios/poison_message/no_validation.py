from saga_api import Poison, RetryLater, Timeout

MAX_ATTEMPTS = 5


def on_order_placed(event, ctx):
    # Bug: trusts the producer. "40 EUR" without a currency fails and is dead-lettered after
    # MAX_ATTEMPTS, but an amount of 12.5, "12" or -12 multiplies without complaint and is booked.
    data = event.data
    try:
        fx = ctx.call("fx", "rate", {"currency": data["currency"]}, correlation_id=event.correlation_id)
    except Timeout:
        raise RetryLater(200)
    if fx.get("error") == "busy":
        raise RetryLater(200)
    if "error" in fx:
        raise Poison(f"FX refused: {fx['error']}")
    with ctx.db.transaction() as tx:
        if tx.get("ledger", data["order_id"]):
            return
        tx.insert("ledger", data["order_id"], {"order_id": data["order_id"], "usd": data["amount"] * fx["rate"]})

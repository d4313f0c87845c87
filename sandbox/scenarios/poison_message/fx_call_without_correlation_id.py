from saga_api import Poison, RetryLater, Timeout

MAX_ATTEMPTS = 5


def on_order_placed(event, ctx):
    data = event.data
    amount, currency = data.get("amount"), data.get("currency")
    if type(amount) is not int or amount <= 0 or not isinstance(currency, str) or not currency:
        raise Poison(f"invalid amount/currency: {data!r}")
    try:
        # Bug: the FX call does not carry the event's correlation id, so FX's logs cannot be tied to the order.
        fx = ctx.call("fx", "rate", {"currency": currency})
    except Timeout:
        raise RetryLater(200)
    if fx.get("error") == "busy":
        raise RetryLater(200)
    if "error" in fx:
        raise Poison(f"FX refused {currency}: {fx['error']}")
    with ctx.db.transaction() as tx:
        if tx.get("ledger", data["order_id"]):
            return
        tx.insert("ledger", data["order_id"], {"order_id": data["order_id"], "usd": amount * fx["rate"]})

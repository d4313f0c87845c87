from saga_api import Poison, RetryLater, Timeout

MAX_ATTEMPTS = 5


def on_order_placed(event, ctx):
    data = event.data
    amount, currency = data.get("amount"), data.get("currency")
    # Bug: an off-by-one in the validation. An amount of 1 is a good order, not poison.
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 1 or not currency:
        raise Poison(f"invalid amount/currency: {data!r}")
    try:
        fx = ctx.call("fx", "rate", {"currency": currency}, correlation_id=event.correlation_id)
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

from saga_api import Poison, RetryLater, Timeout

MAX_ATTEMPTS = 5


def on_order_placed(event, ctx):
    data = event.data
    amount, currency = data.get("amount"), data.get("currency")
    if type(amount) is not int or amount <= 0 or not isinstance(currency, str) or not currency:
        raise Poison(f"invalid amount/currency: {data!r}")
    try:
        fx = ctx.call("fx", "rate", {"currency": currency}, correlation_id=event.correlation_id)
    except Timeout:
        raise RetryLater(200)
    if "error" in fx:
        # Bug: any refusal is taken as final. "busy" passes in a moment; this dead-letters a good order.
        raise Poison(f"FX refused: {fx['error']}")
    with ctx.db.transaction() as tx:
        if tx.get("ledger", data["order_id"]):
            return
        tx.insert("ledger", data["order_id"], {"order_id": data["order_id"], "usd": amount * fx["rate"]})

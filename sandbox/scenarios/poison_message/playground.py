DLQ = True
# Playground version of the billing consumer. Toggle: DLQ (a retry cap and a dead-letter queue).
from saga_api import Context, Event, Poison, RetryLater, Timeout  # noqa: E402  (after the flags)

MAX_ATTEMPTS = 5 if DLQ else None


def on_order_placed(event: Event, ctx: Context) -> None:
    data = event.data
    amount, currency = data.get("amount"), data.get("currency")
    if type(amount) is not int or amount <= 0 or not isinstance(currency, str) or not currency:
        if DLQ:
            raise Poison(f"invalid amount/currency: {data!r}")
        raise ValueError(f"invalid amount/currency: {data!r}")  # retried, forever
    try:
        fx = ctx.call("fx", "rate", {"currency": currency}, correlation_id=event.correlation_id)
    except Timeout:
        raise RetryLater(200)
    if fx.get("error") == "busy":
        raise RetryLater(200)
    if "error" in fx:
        if DLQ:
            raise Poison(f"FX refused {currency}: {fx['error']}")
        raise ValueError(f"FX refused {currency}: {fx['error']}")  # retried, forever
    with ctx.db.transaction() as tx:
        if tx.get("ledger", data["order_id"]):
            return
        tx.insert(
            "ledger", data["order_id"], {"order_id": data["order_id"], "usd": amount * fx["rate"]}
        )

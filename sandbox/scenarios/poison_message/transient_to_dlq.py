from saga_api import Poison

MAX_ATTEMPTS = 5


def on_order_placed(event, ctx):
    data = event.data
    try:
        if type(data["amount"]) is not int or data["amount"] <= 0:
            raise ValueError("bad amount")
        fx = ctx.call("fx", "rate", {"currency": data["currency"]}, correlation_id=event.correlation_id)
        usd = data["amount"] * fx["rate"]
    except Exception as exc:
        # Bug: every failure is treated as poison, including a transient FX timeout,
        # so good events end up in the dead-letter queue.
        raise Poison(str(exc))
    with ctx.db.transaction() as tx:
        if tx.get("ledger", data["order_id"]):
            return
        tx.insert("ledger", data["order_id"], {"order_id": data["order_id"], "usd": usd})

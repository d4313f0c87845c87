MAX_ATTEMPTS = None    # Bug: no retry cap, so no dead-letter queue


def on_order_placed(event, ctx):
    data = event.data
    # A malformed event raises here on every attempt and, with no cap, blocks the queue forever.
    fx = ctx.call("fx", "rate", {"currency": data["currency"]}, correlation_id=event.correlation_id)
    with ctx.db.transaction() as tx:
        if tx.get("ledger", data["order_id"]):
            return
        tx.insert("ledger", data["order_id"], {"order_id": data["order_id"], "usd": data["amount"] * fx["rate"]})

MAX_ATTEMPTS = None    # how many failures before the broker gives up on a message (None: never)


def on_order_placed(event, ctx):
    data = event.data
    fx = ctx.call("fx", "rate", {"currency": data["currency"]}, correlation_id=event.correlation_id)
    with ctx.db.transaction() as tx:
        if tx.get("ledger", data["order_id"]):
            return
        tx.insert("ledger", data["order_id"], {"order_id": data["order_id"], "usd": data["amount"] * fx["rate"]})

MAX_ATTEMPTS = 5


def on_order_placed(event, ctx):
    data = event.data
    try:
        fx = ctx.call("fx", "rate", {"currency": data["currency"]}, correlation_id=event.correlation_id)
        with ctx.db.transaction() as tx:
            if tx.get("ledger", data["order_id"]):
                return
            tx.insert("ledger", data["order_id"],
                      {"order_id": data["order_id"], "usd": data["amount"] * fx["rate"]})
    except Exception as exc:
        # Bug: every failure is swallowed and the message acknowledged: poison vanishes
        # without a trace, and so does any event whose FX call timed out.
        print("ignored:", exc)

def relay_tick(tick, ctx):
    # Publish every unsent row, oldest first, then mark it sent.
    for key, row in ctx.db.find("outbox", sent=False):
        ctx.publish(row["type"], row["data"], correlation_id=row["correlation_id"])
        with ctx.db.transaction() as tx:
            tx.update("outbox", key, sent=True)

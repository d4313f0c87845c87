LEASE_MS = 1000   # how long a claim keeps other relays off a row


def relay_tick(tick, ctx):
    me = ctx.service
    held_back = set()   # orders whose earliest unsent event we must not publish now
    for key, row in ctx.db.find("outbox", sent=False):       # in key order
        order = row["order_id"]
        if order in held_back:
            continue    # an earlier event of this order is not out yet: keep the order
        claims = ctx.db.find("claims", row=key)
        last = max(claims, key=lambda kv: kv[1]["attempt"])[1] if claims else None
        if last and last["owner"] != me and last["until"] > ctx.now:
            held_back.add(order)    # another relay holds it (or crashed holding it): wait
            continue
        attempt = last["attempt"] + 1 if last else 1
        # The claim commits before the publish. Two relays claiming the same attempt insert
        # the same key: the store refuses the second, and nothing after it counts.
        with ctx.db.transaction() as tx:
            tx.insert("claims", f"{key}#{attempt}",
                      {"row": key, "attempt": attempt, "owner": me, "until": ctx.now + LEASE_MS})
        ctx.publish(row["type"], row["data"], correlation_id=row["correlation_id"])
        with ctx.db.transaction() as tx:
            tx.update("outbox", key, sent=True)

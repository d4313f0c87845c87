# Differs from the reference: the decision is its own durable row (a table of decisions), written
# before any confirm or cancel, and each cancel is sent even when the other one timed out.
from saga_api import DuplicateKey, RetryLater, Timeout

GIVE_UP_AFTER_MS = 2000


def ask(ctx, command, service, op):
    return ctx.call(service, op, command.data,
                    idempotency_key=f"{command.data['order_id']}:{service}:{op}",
                    correlation_id=command.correlation_id)


def decide(ctx, oid, outcome):
    try:
        with ctx.db.transaction() as tx:
            tx.insert("decisions", oid, {"outcome": outcome, "at": ctx.now})
    except DuplicateKey:
        pass                                    # decided before: keep the first decision
    return ctx.db.get("decisions", oid)["outcome"]


def checkout(command, ctx):
    oid = command.data["order_id"]
    with ctx.db.transaction() as tx:
        if not tx.get("orders", oid):
            tx.insert("orders", oid, {"status": "PENDING", "first_seen": ctx.now})
    order = ctx.db.get("orders", oid)
    if order["status"] == "CONFIRMED" or order.get("closed"):
        return
    try:
        outcome = (ctx.db.get("decisions", oid) or {}).get("outcome")
        if outcome is None:
            outcome = decide(ctx, oid, tries(ctx, command, order))
        if outcome == "confirm":
            committed = ask(ctx, command, "inventory", "commit")["status"] == "committed"
            if committed and ask(ctx, command, "payment", "capture")["status"] == "captured":
                with ctx.db.transaction() as tx:
                    tx.update("orders", oid, status="CONFIRMED")
                return
            with ctx.db.transaction() as tx:   # a hold expired: switch to cancelling
                tx.put("decisions", oid, {"outcome": "cancel", "at": ctx.now})
                tx.update("orders", oid, status="CANCELLED")
        else:
            with ctx.db.transaction() as tx:
                tx.update("orders", oid, status="CANCELLED")
        unanswered = 0
        for service, op in (("payment", "cancel"), ("inventory", "release")):
            try:                               # each cancel on its own: one participant being
                ask(ctx, command, service, op)  # down must not keep the other's hold blocked
            except Timeout:
                unanswered += 1
        if unanswered:
            raise RetryLater(150)
        with ctx.db.transaction() as tx:
            tx.update("orders", oid, closed=True)
    except Timeout:
        raise RetryLater(150)


def tries(ctx, command, order):
    try:
        stock = ask(ctx, command, "inventory", "hold")["status"]
        if stock != "held":
            return "cancel"
        card = ask(ctx, command, "payment", "authorize")["status"]
        return "confirm" if card == "authorized" else "cancel"
    except Timeout:
        if ctx.now - order["first_seen"] >= GIVE_UP_AFTER_MS:
            return "cancel"
        raise RetryLater(150)

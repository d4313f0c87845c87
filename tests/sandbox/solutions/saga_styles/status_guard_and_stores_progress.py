from saga_api import DuplicateKey, RetryLater, Timeout

# --- Choreography (status_guard) ---

# No inbox table: every handler guards on the state it is about to change (order status, an existing reservation, payment or refusal row), keyed by order id; a release that finds no reservation leaves a tombstone so a late OrderCreated is refused, and a late PaymentSucceeded is refunded.


def place_order(command, ctx):
    order = command.data
    if ctx.db.get("orders", order["order_id"]):
        return                                    # already saved: the outbox row went with it
    with ctx.db.transaction() as tx:
        tx.insert("orders", order["order_id"], {**order, "status": "PENDING"})
        tx.outbox("OrderCreated", order, correlation_id=command.correlation_id)


def _settle(event, ctx, status, release=False):
    oid = event.data["order_id"]
    with ctx.db.transaction() as tx:
        current = tx.get("orders", oid)["status"]
        if current == "CANCELLED" and status == "CONFIRMED" and not tx.get("refunds", oid):
            # Paid after the timeout cancelled it: the money goes back (once).
            tx.insert("refunds", oid, {})
            tx.outbox("RefundPayment", event.data, correlation_id=event.correlation_id)
        if current != "PENDING":
            return                                # a repeat, or too late: settled already
        tx.update("orders", oid, status=status)
        if release:
            tx.outbox("ReleaseStock", {"order_id": oid, "sku": event.data["sku"]},
                      correlation_id=event.correlation_id)


def on_inventory_failed(event, ctx):
    _settle(event, ctx, "CANCELLED")


def on_payment_succeeded(event, ctx):
    _settle(event, ctx, "CONFIRMED")


def on_payment_failed(event, ctx):
    _settle(event, ctx, "CANCELLED", release=True)


def on_order_created(event, ctx):
    order = event.data
    oid = order["order_id"]
    with ctx.db.transaction() as tx:
        if tx.get("reservations", oid) or tx.get("refused", oid):
            return
        available = tx.get("stock", order["sku"])["available"]
        if available < order["qty"]:
            tx.insert("refused", oid, {"available": available})
            tx.outbox("InventoryFailed", order, correlation_id=event.correlation_id)
            return
        tx.update("stock", order["sku"], available=available - order["qty"])
        tx.insert("reservations", oid, {"order_id": oid, "sku": order["sku"], "qty": order["qty"],
                                        "status": "RESERVED"})
        tx.outbox("InventoryReserved", order, correlation_id=event.correlation_id)


def on_release_stock(event, ctx):
    oid = event.data["order_id"]
    with ctx.db.transaction() as tx:
        row = tx.get("reservations", oid)
        if not row and not tx.get("refused", oid):
            tx.insert("refused", oid, {"tombstone": True})  # a late OrderCreated is refused
        if not row or row["status"] != "RESERVED":
            return
        tx.update("reservations", oid, status="RELEASED")
        tx.update("stock", row["sku"], available=tx.get("stock", row["sku"])["available"] + row["qty"])


def on_inventory_reserved(event, ctx):
    order = event.data
    oid = order["order_id"]
    with ctx.db.transaction() as tx:
        if tx.get("payments", oid) or tx.get("declines", oid):
            return
        balance = tx.get("accounts", order["customer"])["balance"]
        if balance < order["amount"]:
            tx.insert("declines", oid, {"balance": balance})
            tx.outbox("PaymentFailed", order, correlation_id=event.correlation_id)
            return
        tx.update("accounts", order["customer"], balance=balance - order["amount"])
        tx.insert("payments", oid, {"order_id": oid, "amount": order["amount"], "status": "CAPTURED"})
        tx.outbox("PaymentSucceeded", order, correlation_id=event.correlation_id)


# --- Orchestration (stores_progress) ---

# The orchestrator stores its step progress (RESERVED, then PAID) in the order row and resumes from it instead of re-asking every step; keys are the command's message id plus the operation.


def handle_place_order(command, ctx):
    order = command.data
    oid = order["order_id"]
    corr = command.correlation_id
    if ctx.db.get("orders", oid) is None:
        try:
            with ctx.db.transaction() as tx:
                tx.insert("orders", oid, {**order, "status": "PENDING", "step": "NEW"})
        except DuplicateKey:
            pass
    row = ctx.db.get("orders", oid)
    if row["status"] != "PENDING":
        return

    def call(service, op):
        answer = ctx.call(service, op, order, idempotency_key=f"{command.id}:{op}", correlation_id=corr)
        if answer.get("status") == "busy":
            raise RetryLater(250)
        return answer

    def step(name):
        with ctx.db.transaction() as tx:
            tx.update("orders", oid, step=name)

    try:
        if row["step"] == "NEW":
            if call("inventory", "reserve")["status"] != "reserved":
                return finish(ctx, oid, "CANCELLED", corr)
            step("RESERVED")
            row = ctx.db.get("orders", oid)
        if row["step"] == "RESERVED":
            if call("payment", "capture")["status"] != "captured":
                call("inventory", "release")
                return finish(ctx, oid, "CANCELLED", corr)
            step("PAID")
    except Timeout:
        raise RetryLater(400)
    finish(ctx, oid, "CONFIRMED", corr)


def finish(ctx, oid, status, corr):
    with ctx.db.transaction() as tx:
        tx.update("orders", oid, status=status)
        tx.outbox("OrderConfirmed" if status == "CONFIRMED" else "OrderCancelled", {"order_id": oid},
                  correlation_id=corr)

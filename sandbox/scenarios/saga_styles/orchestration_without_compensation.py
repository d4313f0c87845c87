from saga_api import DuplicateKey, Timeout, RetryLater

# --- Choreography: Order, Inventory and Payment react to each other's events ---


def first_time(tx, event):
    """Record the event in this service's inbox; False if it was processed before."""
    if tx.get("inbox", event.id):
        return False
    tx.insert("inbox", event.id, {"type": event.type})
    return True


# --- Order service -----------------------------------------------------------

def place_order(command, ctx):
    order = command.data
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", order["order_id"], {**order, "status": "PENDING"})
            tx.outbox("OrderCreated", order, correlation_id=command.correlation_id)
    except DuplicateKey:
        pass                                     # the command was redelivered


def on_inventory_failed(event, ctx):
    with ctx.db.transaction() as tx:
        if first_time(tx, event):
            tx.update("orders", event.data["order_id"], status="CANCELLED")


def on_payment_succeeded(event, ctx):
    with ctx.db.transaction() as tx:
        if not first_time(tx, event):
            return
        if tx.get("orders", event.data["order_id"])["status"] == "CANCELLED":
            # The timeout cancelled the order before this answer came, and the money was
            # taken anyway: give it back. Release the stock again too: if the reservation
            # came after the timeout, the timeout's ReleaseStock found nothing to release.
            tx.outbox("RefundPayment", event.data, correlation_id=event.correlation_id)
            tx.outbox("ReleaseStock", event.data, correlation_id=event.correlation_id)
        else:
            tx.update("orders", event.data["order_id"], status="CONFIRMED")


def on_payment_failed(event, ctx):
    with ctx.db.transaction() as tx:
        if first_time(tx, event):
            tx.update("orders", event.data["order_id"], status="CANCELLED")
            # The compensation for the reservation, in the same transaction.
            tx.outbox("ReleaseStock", event.data, correlation_id=event.correlation_id)


# --- Inventory service -------------------------------------------------------

def on_order_created(event, ctx):
    order = event.data
    with ctx.db.transaction() as tx:
        if not first_time(tx, event):
            return
        stock = tx.get("stock", order["sku"])
        if stock["available"] >= order["qty"]:
            tx.update("stock", order["sku"], available=stock["available"] - order["qty"])
            tx.insert("reservations", order["order_id"],
                      {"order_id": order["order_id"], "sku": order["sku"], "qty": order["qty"],
                       "status": "RESERVED"})
            tx.outbox("InventoryReserved", order, correlation_id=event.correlation_id)
        else:
            tx.outbox("InventoryFailed", order, correlation_id=event.correlation_id)


def on_release_stock(event, ctx):
    order_id = event.data["order_id"]
    with ctx.db.transaction() as tx:
        reservation = tx.get("reservations", order_id)
        if reservation and reservation["status"] == "RESERVED":   # idempotent: release once
            stock = tx.get("stock", reservation["sku"])
            tx.update("stock", reservation["sku"], available=stock["available"] + reservation["qty"])
            tx.update("reservations", order_id, status="RELEASED")


# --- Payment service ---------------------------------------------------------

def on_inventory_reserved(event, ctx):
    order = event.data
    with ctx.db.transaction() as tx:
        if not first_time(tx, event):
            return
        account = tx.get("accounts", order["customer"])
        if account["balance"] >= order["amount"]:
            tx.update("accounts", order["customer"], balance=account["balance"] - order["amount"])
            tx.insert("payments", order["order_id"],
                      {"order_id": order["order_id"], "amount": order["amount"], "status": "CAPTURED"})
            tx.outbox("PaymentSucceeded", order, correlation_id=event.correlation_id)
        else:
            tx.outbox("PaymentFailed", order, correlation_id=event.correlation_id)


# --- Orchestration: one orchestrator in Order calls Inventory and Payment ---


def handle_place_order(command, ctx):
    order = command.data
    oid = order["order_id"]
    corr = command.correlation_id
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", oid, {**order, "status": "PENDING"})
    except DuplicateKey:
        pass                                   # redelivered: resume the saga
    if ctx.db.get("orders", oid)["status"] != "PENDING":
        return                                 # already finished

    def call(service, op):
        # Same key on every retry, so a repeated call replays the first result.
        return ctx.call(service, op, order, idempotency_key=f"{op}-{oid}", correlation_id=corr)

    try:
        reserved = call("inventory", "reserve")
        if reserved["status"] == "busy":
            raise RetryLater(300)              # transient: nothing was done, ask again later
        if reserved["status"] != "reserved":
            finish(ctx, oid, "CANCELLED", corr)
            return
        captured = call("payment", "capture")
        if captured["status"] == "busy":
            raise RetryLater(300)
        if captured["status"] != "captured":
            # Bug: no compensation: the reservation is never released.
            finish(ctx, oid, "CANCELLED", corr)
            return
    except Timeout:
        # We do not know whether the other side acted: try again later with the same keys.
        raise RetryLater(300)
    finish(ctx, oid, "CONFIRMED", corr)


def finish(ctx, oid, status, corr):
    with ctx.db.transaction() as tx:
        tx.update("orders", oid, status=status)
        tx.outbox("Order" + status.capitalize(), {"order_id": oid}, correlation_id=corr)

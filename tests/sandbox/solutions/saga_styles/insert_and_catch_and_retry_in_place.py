from saga_api import DuplicateKey, RetryLater, Timeout

# --- Choreography (insert_and_catch) ---

# Dedup by inserting the event id first and catching DuplicateKey around the whole transaction; reservations and payments get generated ids and are found again by order id.


def once(ctx, event, work):
    """Run work(tx) in one transaction with the event recorded; a repeat raises DuplicateKey at once."""
    try:
        with ctx.db.transaction() as tx:
            tx.insert("processed", event.id, {"type": event.type})
            work(tx)
    except DuplicateKey:
        pass


def place_order(command, ctx):
    order = command.data

    def work(tx):
        tx.insert("orders", order["order_id"], {**order, "status": "PENDING"})
        tx.outbox("OrderCreated", order, correlation_id=command.correlation_id)
    once(ctx, command, work)


def on_inventory_failed(event, ctx):
    once(ctx, event, lambda tx: tx.update("orders", event.data["order_id"], status="CANCELLED"))


def on_payment_succeeded(event, ctx):
    def work(tx):
        if tx.get("orders", event.data["order_id"])["status"] == "CANCELLED":
            # The timeout got there first: refund, and release whatever was reserved since.
            for kind in ("RefundPayment", "ReleaseStock"):
                tx.outbox(kind, event.data, correlation_id=event.correlation_id)
        else:
            tx.update("orders", event.data["order_id"], status="CONFIRMED")
    once(ctx, event, work)


def on_payment_failed(event, ctx):
    def work(tx):
        tx.update("orders", event.data["order_id"], status="CANCELLED")
        tx.outbox("ReleaseStock", event.data, correlation_id=event.correlation_id)
    once(ctx, event, work)


def on_order_created(event, ctx):
    order = event.data

    def work(tx):
        stock = tx.get("stock", order["sku"])
        if stock["available"] >= order["qty"]:
            tx.update("stock", order["sku"], available=stock["available"] - order["qty"])
            tx.insert("reservations", ctx.new_id("res"), {"order_id": order["order_id"], "sku": order["sku"],
                                                          "qty": order["qty"], "status": "RESERVED"})
            tx.outbox("InventoryReserved", order, correlation_id=event.correlation_id)
        else:
            tx.outbox("InventoryFailed", order, correlation_id=event.correlation_id)
    once(ctx, event, work)


def on_release_stock(event, ctx):
    def work(tx):
        for key, r in tx.find("reservations", order_id=event.data["order_id"], status="RESERVED"):
            tx.update("reservations", key, status="RELEASED")
            tx.update("stock", r["sku"], available=tx.get("stock", r["sku"])["available"] + r["qty"])
    once(ctx, event, work)


def on_inventory_reserved(event, ctx):
    order = event.data

    def work(tx):
        account = tx.get("accounts", order["customer"])
        if account["balance"] >= order["amount"]:
            tx.update("accounts", order["customer"], balance=account["balance"] - order["amount"])
            tx.insert("payments", ctx.new_id("pay"),
                      {"order_id": order["order_id"], "amount": order["amount"], "status": "CAPTURED"})
            tx.outbox("PaymentSucceeded", order, correlation_id=event.correlation_id)
        else:
            tx.outbox("PaymentFailed", order, correlation_id=event.correlation_id)
    once(ctx, event, work)


# --- Orchestration (retry_in_place) ---

# Retries a timed-out or busy call a few times inside the same delivery before falling back to RetryLater, and checks the order row instead of catching DuplicateKey.


def handle_place_order(command, ctx):
    order = command.data
    oid = order["order_id"]
    corr = command.correlation_id
    row = ctx.db.get("orders", oid)
    if row is None:
        with ctx.db.transaction() as tx:
            tx.insert("orders", oid, {**order, "status": "PENDING"})
    elif row["status"] in ("CONFIRMED", "CANCELLED"):
        return
    if call(ctx, "inventory", "reserve", order, corr) == "out_of_stock":
        return end(ctx, oid, "CANCELLED", corr)
    if call(ctx, "payment", "capture", order, corr) == "declined":
        call(ctx, "inventory", "release", order, corr)
        return end(ctx, oid, "CANCELLED", corr)
    end(ctx, oid, "CONFIRMED", corr)


def call(ctx, service, op, order, corr):
    for _ in range(3):
        try:
            answer = ctx.call(service, op, order, idempotency_key=op + ":" + order["order_id"],
                              correlation_id=corr)
        except Timeout:
            continue
        if answer["status"] != "busy":
            return answer["status"]
    raise RetryLater(700)                  # still unsure: the whole command comes back later


def end(ctx, oid, status, corr):
    with ctx.db.transaction() as tx:
        tx.update("orders", oid, status=status)
        tx.outbox({"CONFIRMED": "OrderConfirmed", "CANCELLED": "OrderCancelled"}[status], {"order_id": oid},
                  correlation_id=corr)

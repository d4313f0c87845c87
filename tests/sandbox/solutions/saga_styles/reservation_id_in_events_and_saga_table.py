from saga_api import DuplicateKey, RetryLater, Timeout

# --- Choreography (reservation_id_in_events) ---

# Compensation by reservation id: Inventory names the reservation after the OrderCreated event and passes that id along in the events, so ReleaseStock releases exactly that row (the timeout's ReleaseStock, which carries only the order, releases by order id); one inbox table keyed by handler and event id.


def seen(tx, handler, event):
    key = f"{handler}/{event.id}"
    if tx.get("inbox", key):
        return True
    tx.insert("inbox", key, {"at": event.attempt})
    return False


def place_order(command, ctx):
    order = command.data
    with ctx.db.transaction() as tx:
        if seen(tx, "place_order", command) or tx.get("orders", order["order_id"]):
            return
        tx.insert("orders", order["order_id"], {**order, "status": "PENDING"})
        tx.outbox("OrderCreated", order, correlation_id=command.correlation_id)


def on_inventory_failed(event, ctx):
    with ctx.db.transaction() as tx:
        if not seen(tx, "on_inventory_failed", event):
            tx.update("orders", event.data["order_id"], status="CANCELLED")


def on_payment_succeeded(event, ctx):
    with ctx.db.transaction() as tx:
        if seen(tx, "on_payment_succeeded", event):
            return
        if tx.get("orders", event.data["order_id"])["status"] != "CANCELLED":
            tx.update("orders", event.data["order_id"], status="CONFIRMED")
            return
        # Too late: the timeout cancelled the order. Undo the payment and the reservation.
        tx.outbox("RefundPayment", event.data, correlation_id=event.correlation_id)
        tx.outbox("ReleaseStock", {"order_id": event.data["order_id"],
                                   "reservation_id": event.data["reservation_id"]},
                  correlation_id=event.correlation_id)


def on_payment_failed(event, ctx):
    with ctx.db.transaction() as tx:
        if seen(tx, "on_payment_failed", event):
            return
        tx.update("orders", event.data["order_id"], status="CANCELLED")
        tx.outbox("ReleaseStock", {"order_id": event.data["order_id"],
                                   "reservation_id": event.data["reservation_id"]},
                  correlation_id=event.correlation_id)


def on_order_created(event, ctx):
    order = event.data
    with ctx.db.transaction() as tx:
        if seen(tx, "on_order_created", event):
            return
        stock = tx.get("stock", order["sku"])
        if stock["available"] < order["qty"]:
            tx.outbox("InventoryFailed", order, correlation_id=event.correlation_id)
            return
        rid = "res-" + event.id                    # stable: the same on every redelivery
        tx.update("stock", order["sku"], available=stock["available"] - order["qty"])
        tx.insert("reservations", rid, {"order_id": order["order_id"], "sku": order["sku"], "qty": order["qty"],
                                        "status": "RESERVED"})
        tx.outbox("InventoryReserved", {**order, "reservation_id": rid}, correlation_id=event.correlation_id)


def on_release_stock(event, ctx):
    rid = event.data.get("reservation_id")
    with ctx.db.transaction() as tx:
        if rid is None:                            # from the timeout: the order only
            rows = tx.find("reservations", order_id=event.data["order_id"])
        else:
            rows = [(rid, tx.get("reservations", rid))]
        for key, row in rows:
            if row and row["status"] == "RESERVED":
                tx.update("reservations", key, status="RELEASED")
                tx.update("stock", row["sku"], available=tx.get("stock", row["sku"])["available"] + row["qty"])


def on_inventory_reserved(event, ctx):
    order = event.data
    with ctx.db.transaction() as tx:
        if seen(tx, "on_inventory_reserved", event):
            return
        account = tx.get("accounts", order["customer"])
        if account["balance"] < order["amount"]:
            tx.outbox("PaymentFailed", order, correlation_id=event.correlation_id)
            return
        tx.update("accounts", order["customer"], balance=account["balance"] - order["amount"])
        tx.insert("payments", "pay-" + order["order_id"],
                  {"order_id": order["order_id"], "amount": order["amount"], "status": "CAPTURED"})
        tx.outbox("PaymentSucceeded", order, correlation_id=event.correlation_id)


# --- Orchestration (saga_table) ---

# The saga's state lives in a separate "sagas" table and the order row is only written at the end; a declined payment is compensated by releasing and refunding by order (refunding nothing is harmless); keys come from the correlation id.

TRANSIENT = {"busy"}


def handle_place_order(command, ctx):
    order = command.data
    oid = order["order_id"]
    corr = command.correlation_id
    with ctx.db.transaction() as tx:
        saga = tx.get("sagas", oid)
        if saga is None:
            tx.insert("sagas", oid, {"state": "RUNNING"})
            tx.put("orders", oid, {**order, "status": "PENDING"})
            saga = {"state": "RUNNING"}
    if saga["state"] != "RUNNING":
        return
    try:
        reserved = ask(ctx, "inventory", "reserve", order, corr)
        if reserved == "reserved":
            captured = ask(ctx, "payment", "capture", order, corr)
            if captured == "captured":
                return close(ctx, oid, "CONFIRMED", corr)
            ask(ctx, "payment", "refund", order, corr)
            ask(ctx, "inventory", "release", order, corr)
        close(ctx, oid, "CANCELLED", corr)
    except Timeout:
        raise RetryLater(500)


def ask(ctx, service, op, order, corr):
    answer = ctx.call(service, op, order, idempotency_key=f"{corr}/{service}/{op}", correlation_id=corr)
    if answer["status"] in TRANSIENT:
        raise RetryLater(300)
    return answer["status"]


def close(ctx, oid, status, corr):
    with ctx.db.transaction() as tx:
        tx.update("sagas", oid, state=status)
        tx.update("orders", oid, status=status)
        tx.outbox("Order" + status.capitalize(), {"order_id": oid}, correlation_id=corr)

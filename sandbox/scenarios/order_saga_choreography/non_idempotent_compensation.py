from saga_api import DuplicateKey


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
        if reservation:   # Bug: releases again on every duplicate ReleaseStock
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

# Order, Inventory and Payment by choreography. This version works on the happy
# path. Make it survive duplicates, crashes and failures (see the statement).

# --- Order service -----------------------------------------------------------

def place_order(command, ctx):
    order = command.data
    with ctx.db.transaction() as tx:
        tx.insert("orders", order["order_id"], {**order, "status": "PENDING"})
        tx.outbox("OrderCreated", order, correlation_id=command.correlation_id)


def on_inventory_failed(event, ctx):
    with ctx.db.transaction() as tx:
        tx.update("orders", event.data["order_id"], status="CANCELLED")


def on_payment_succeeded(event, ctx):
    with ctx.db.transaction() as tx:
        tx.update("orders", event.data["order_id"], status="CONFIRMED")
        # to fix: the order's timeout may have cancelled it already (see the statement)


def on_payment_failed(event, ctx):
    with ctx.db.transaction() as tx:
        tx.update("orders", event.data["order_id"], status="CANCELLED")
        # to fix: the stock reserved for this order is still held


# --- Inventory service -------------------------------------------------------

def on_order_created(event, ctx):
    order = event.data
    with ctx.db.transaction() as tx:
        stock = tx.get("stock", order["sku"])
        if stock["available"] >= order["qty"]:
            tx.update("stock", order["sku"], available=stock["available"] - order["qty"])
            tx.insert("reservations", ctx.new_id("res"),
                      {"order_id": order["order_id"], "sku": order["sku"], "qty": order["qty"],
                       "status": "RESERVED"})
            tx.outbox("InventoryReserved", order, correlation_id=event.correlation_id)
        else:
            tx.outbox("InventoryFailed", order, correlation_id=event.correlation_id)


def on_release_stock(event, ctx):
    pass  # to fix: release the reservation (safely, if this arrives twice)


# --- Payment service ---------------------------------------------------------

def on_inventory_reserved(event, ctx):
    order = event.data
    with ctx.db.transaction() as tx:
        account = tx.get("accounts", order["customer"])
        if account["balance"] >= order["amount"]:
            tx.update("accounts", order["customer"], balance=account["balance"] - order["amount"])
            tx.insert("payments", ctx.new_id("pay"),
                      {"order_id": order["order_id"], "amount": order["amount"], "status": "CAPTURED"})
            tx.outbox("PaymentSucceeded", order, correlation_id=event.correlation_id)
        else:
            tx.outbox("PaymentFailed", order, correlation_id=event.correlation_id)

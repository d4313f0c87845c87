# One helper copies the incoming id onto everything sent, so no call site can forget it.
from saga_api import DuplicateKey


def _emit(tx, incoming, type, data):
    tx.outbox(type, data, correlation_id=incoming.correlation_id)


def _call(ctx, incoming, service, op, data):
    return ctx.call(service, op, data, correlation_id=incoming.correlation_id)


def place_order(command, ctx):
    try:
        with ctx.db.transaction() as tx:
            tx.insert("orders", command.data["order_id"], dict(command.data, status="PENDING"))
            _emit(tx, command, "OrderCreated", command.data)
    except DuplicateKey:
        return


def on_order_created(event, ctx):
    _call(ctx, event, "audit", "record", {"order_id": event.data["order_id"], "step": "reserve"})
    with ctx.db.transaction() as tx:
        if tx.get("inbox", event.id):
            return
        tx.insert("inbox", event.id, {})
        stock = tx.get("stock", event.data["sku"])
        tx.update("stock", event.data["sku"], available=stock["available"] - event.data["qty"])
        _emit(tx, event, "InventoryReserved", event.data)

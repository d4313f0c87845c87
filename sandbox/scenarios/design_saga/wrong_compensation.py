from saga_api import Step


def saga():
    return [
        Step("create order", "order.create", compensation="order.cancel"),
        # Bug: capture is placed first and "compensated" by cancelling the order, which
        # does not give the money back when the stock then turns out to be missing.
        Step("capture payment", "payment.capture", compensation="order.cancel"),
        Step("reserve stock", "inventory.reserve", compensation="inventory.release"),
        Step("confirm order", "order.confirm"),
    ]


def messages():
    # For each step: its idempotency key (one per order and step, so a retry is recognised and
    # nothing else is), the event it publishes when it succeeds, when it is refused, and when
    # it is undone. The key is also the id of the event, so consumers can drop a repeat.
    return {
        "create order": {
            "key": "create-{order_id}",
            "on_success": "OrderCreated",
            "on_compensation": "OrderCancelled",
        },
        "reserve stock": {
            "key": "reserve-{order_id}",
            "on_success": "StockReserved",
            "on_failure": "StockUnavailable",
            "on_compensation": "StockReleased",
        },
        "capture payment": {
            "key": "capture-{order_id}",
            "on_success": "PaymentCaptured",
            "on_failure": "PaymentDeclined",
            "on_compensation": "PaymentRefunded",
        },
        "confirm order": {"key": "confirm-{order_id}", "on_success": "OrderConfirmed"},
    }

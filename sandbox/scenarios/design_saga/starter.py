from saga_api import Step


def saga():
    # The happy path. Which steps need a compensation, and which one?
    return [
        Step("create order", "order.create"),
        Step("reserve stock", "inventory.reserve"),
        Step("capture payment", "payment.capture"),
        Step("confirm order", "order.confirm"),
    ]


def messages():
    # For each step (by name): its idempotency key, a template over the order's fields such as
    # "reserve-{order_id}", and the events it publishes: on_success, on_failure (when it is
    # refused) and on_compensation (when it is undone). Which steps need which?
    return {
        "create order": {"key": None, "on_success": "OrderCreated"},
        "reserve stock": {"key": None, "on_success": "StockReserved"},
        "capture payment": {"key": None, "on_success": "PaymentCaptured"},
        "confirm order": {"key": None, "on_success": "OrderConfirmed"},
    }

from saga_api import Step


def saga():
    # Bug: "safe" by never finishing: every order is created and then cancelled, so
    # nothing is ever held and nothing is ever sold.
    return [
        Step("create order", "order.create", compensation="order.cancel"),
        Step("cancel order", "order.cancel"),
    ]


def messages():
    return {
        "create order": {
            "key": "create-{order_id}",
            "on_success": "OrderCreated",
            "on_compensation": "OrderCancelled",
        },
        "cancel order": {"key": "cancel-{order_id}", "on_success": "OrderCancelled"},
    }

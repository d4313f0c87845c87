from saga_api import Step


def saga():
    return [
        Step("create order", "order.create", compensation="order.cancel"),
        Step("reserve stock", "inventory.reserve", compensation="inventory.release"),
        # Bug: payment is left to "someone else": the order is confirmed without its money.
        Step("confirm order", "order.confirm", compensation="order.cancel"),
    ]

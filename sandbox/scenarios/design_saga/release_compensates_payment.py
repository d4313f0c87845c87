from saga_api import Step


def saga():
    return [
        Step("create order", "order.create", compensation="order.cancel"),
        # Bug: capture comes first and is "undone" by releasing stock, so when the stock
        # then runs out the customer's money stays captured.
        Step("capture payment", "payment.capture", compensation="inventory.release"),
        Step("reserve stock", "inventory.reserve", compensation="inventory.release"),
        Step("confirm order", "order.confirm"),
    ]

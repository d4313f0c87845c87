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

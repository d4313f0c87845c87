from saga_api import Step


def saga():
    return [
        Step("create order", "order.create", compensation="order.cancel"),
        Step("reserve stock", "inventory.reserve"),          # Bug: nothing releases the stock
        Step("capture payment", "payment.capture", compensation="payment.refund"),
        Step("confirm order", "order.confirm"),
    ]

from saga_api import Step


def saga():
    return [
        Step("create order", "order.create", compensation="order.cancel"),
        Step("reserve stock", "inventory.reserve", compensation="inventory.release"),
        Step("confirm order", "order.confirm"),               # Bug: confirmed before payment succeeded
        Step("capture payment", "payment.capture", compensation="payment.refund"),
    ]

from saga_api import Step


def saga():
    return [
        Step("create order", "order.create", compensation="order.cancel"),
        # Bug: the two compensations are swapped. A declined card "refunds" a payment that
        # never happened and leaves the stock reserved.
        Step("reserve stock", "inventory.reserve", compensation="payment.refund"),
        Step("capture payment", "payment.capture", compensation="inventory.release"),
        Step("confirm order", "order.confirm"),
    ]

from saga_api import Step


def saga():
    return [
        # Bug: creating the order has no compensation, so a failed saga releases the stock
        # and refunds the money but leaves the order PENDING for ever.
        Step("create order", "order.create"),
        Step("reserve stock", "inventory.reserve", compensation="inventory.release"),
        Step("capture payment", "payment.capture", compensation="payment.refund"),
        Step("confirm order", "order.confirm"),
    ]

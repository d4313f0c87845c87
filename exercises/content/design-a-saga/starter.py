from saga_api import Step


def saga():
    # The happy path. Which steps need a compensation, and which one?
    return [
        Step("create order", "order.create"),
        Step("reserve stock", "inventory.reserve"),
        Step("capture payment", "payment.capture"),
        Step("confirm order", "order.confirm"),
    ]

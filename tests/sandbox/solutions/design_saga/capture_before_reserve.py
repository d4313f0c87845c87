# Takes the money before reserving the stock (refund when the stock is gone), the opposite order to the reference.
from saga_api import Step


def saga():
    return [
        Step("open the order", "order.create", compensation="order.cancel"),
        Step("charge the card", "payment.capture", compensation="payment.refund"),
        Step("hold the goods", "inventory.reserve", compensation="inventory.release"),
        Step("tell the customer", "order.confirm"),
    ]

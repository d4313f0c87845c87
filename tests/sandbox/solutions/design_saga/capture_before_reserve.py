# Takes the money before reserving the stock (refund when the stock is gone), the opposite order to the reference.
from saga_api import Step


def saga():
    return [
        Step("open the order", "order.create", compensation="order.cancel"),
        Step("charge the card", "payment.capture", compensation="payment.refund"),
        Step("hold the goods", "inventory.reserve", compensation="inventory.release"),
        Step("tell the customer", "order.confirm"),
    ]


def messages():
    return {
        "open the order": {"key": "o:{order_id}", "on_success": "OrderOpened", "on_compensation": "OrderCancelled"},
        "charge the card": {
            "key": "pay:{order_id}",
            "on_success": "CardCharged",
            "on_failure": "CardDeclined",
            "on_compensation": "CardRefunded",
        },
        "hold the goods": {
            "key": "stock:{order_id}",
            "on_success": "GoodsHeld",
            "on_failure": "GoodsSoldOut",
            "on_compensation": "GoodsReturned",
        },
        "tell the customer": {"key": "done:{order_id}", "on_success": "OrderConfirmed"},
    }

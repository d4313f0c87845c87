# Gives every step a compensation, the final confirm included (it never runs, as nothing can fail after it), with keyword arguments throughout.
from saga_api import Step


def saga():
    return [
        Step(name="create", action="order.create", compensation="order.cancel"),
        Step(name="reserve", action="inventory.reserve", compensation="inventory.release"),
        Step(name="capture", action="payment.capture", compensation="payment.refund"),
        Step(name="confirm", action="order.confirm", compensation="order.cancel"),
    ]


def messages():
    # Every event named, even those that never happen (confirm cannot fail and is never undone).
    names = {
        "create": ("OrderCreated", "OrderRejected", "OrderCancelled"),
        "reserve": ("StockReserved", "OutOfStock", "StockReleased"),
        "capture": ("PaymentCaptured", "PaymentDeclined", "PaymentRefunded"),
        "confirm": ("OrderConfirmed", "ConfirmFailed", "ConfirmationWithdrawn"),
    }
    return {
        step: dict(key=step + "#{order_id}", on_success=ok, on_failure=failed, on_compensation=undone)
        for step, (ok, failed, undone) in names.items()
    }

# Gives every step a compensation, the final confirm included (it never runs, as nothing can fail after it), with keyword arguments throughout.
from saga_api import Step


def saga():
    return [
        Step(name="create", action="order.create", compensation="order.cancel"),
        Step(name="reserve", action="inventory.reserve", compensation="inventory.release"),
        Step(name="capture", action="payment.capture", compensation="payment.refund"),
        Step(name="confirm", action="order.confirm", compensation="order.cancel"),
    ]

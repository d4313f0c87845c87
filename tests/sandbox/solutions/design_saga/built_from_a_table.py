# Builds the steps from a table of (action, compensation) pairs instead of writing each Step by hand.
from saga_api import Step

PLAN = (
    ("order.create", "order.cancel"),
    ("inventory.reserve", "inventory.release"),
    ("payment.capture", "payment.refund"),
    ("order.confirm", None),
)


def saga():
    return [Step(action.replace(".", " "), action, compensation=undo) for action, undo in PLAN]

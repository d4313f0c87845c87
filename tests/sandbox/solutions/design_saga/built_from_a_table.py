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

# The events each action announces: (done, refused, undone); None where it cannot happen.
EVENTS = {
    "order.create": ("OrderPlaced", None, "OrderCancelled"),
    "inventory.reserve": ("InventoryReserved", "InventoryFailed", "InventoryReleased"),
    "payment.capture": ("PaymentSucceeded", "PaymentFailed", "PaymentRefunded"),
    "order.confirm": ("OrderConfirmed", None, None),
}


def messages():
    out = {}
    for action, _ in PLAN:
        done, refused, undone = EVENTS[action]
        out[action.replace(".", " ")] = {
            "key": "{correlation_id}/{order_id}/" + action,
            "on_success": done,
            "on_failure": refused,
            "on_compensation": undone,
        }
    return out

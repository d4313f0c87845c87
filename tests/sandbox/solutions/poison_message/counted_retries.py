# Transient failures raise an ordinary exception (counted by the broker) with a larger cap, instead of RetryLater.
from saga_api import Poison

MAX_ATTEMPTS = 10


class FxUnavailable(Exception):
    pass


def on_order_placed(event, ctx):
    data = event.data
    if type(data.get("amount")) is not int or data["amount"] <= 0 or not data.get("currency") \
            or not isinstance(data["currency"], str):
        raise Poison("malformed OrderPlaced")
    fx = ctx.call("fx", "rate", {"currency": data["currency"]}, correlation_id=event.correlation_id)  # Timeout: counted
    if fx.get("error") == "unknown_currency":
        raise Poison("unknown currency")
    if "rate" not in fx:
        raise FxUnavailable(fx.get("error"))
    with ctx.db.transaction() as tx:
        tx.put("ledger", data["order_id"], {"order_id": data["order_id"], "usd": data["amount"] * fx["rate"]})

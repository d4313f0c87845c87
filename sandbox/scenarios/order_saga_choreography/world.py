# Trusted parts of the choreographed order saga, run beside the learner's handlers:
#
# * order_timeout (in Order): the saga's timeout. ORDER_TIMEOUT_MS after an order was placed the
#   scenario delivers OrderTimeout (the order) to it; an order still PENDING then is cancelled and
#   its stock released with ReleaseStock, in one transaction through Order's outbox. An order that
#   was answered in time is left alone, so a repeated or late OrderTimeout changes nothing.
# * on_refund_payment (in Payment): RefundPayment (the order) refunds every CAPTURED payment of
#   that order id to the customer's account, once (a refunded payment is REFUNDED).

from typing import Any

from saga_api import Context, Event


def order_timeout(event: Event, ctx: Context) -> None:
    order: dict[str, Any] = event.data
    with ctx.db.transaction() as tx:
        row = tx.get("orders", order["order_id"])
        if row is None or row.get("status") != "PENDING":
            return  # answered in time: nothing to give up on
        tx.update("orders", order["order_id"], status="CANCELLED")
        tx.outbox("ReleaseStock", order, correlation_id=event.correlation_id)


def on_refund_payment(event: Event, ctx: Context) -> None:
    order: dict[str, Any] = event.data
    with ctx.db.transaction() as tx:
        for key, payment in tx.find("payments", order_id=order["order_id"], status="CAPTURED"):
            account = tx.get("accounts", order["customer"])
            tx.update("accounts", order["customer"], balance=account["balance"] + payment["amount"])
            tx.update("payments", key, status="REFUNDED")

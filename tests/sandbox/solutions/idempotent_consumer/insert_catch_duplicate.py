# Inserts the capture id first and lets DuplicateKey (caught outside the transaction) mark a repeat.
from saga_api import DuplicateKey


def on_payment_captured(event, ctx):
    capture = event.data
    try:
        with ctx.db.transaction() as tx:
            tx.insert("captures", capture["payment_id"], {"order_id": capture["order_id"],
                                                          "amount": capture["amount"]})
            tx.update("orders", capture["order_id"], status="CONFIRMED")
            tx.outbox("OrderConfirmed", {"order_id": capture["order_id"]}, correlation_id=event.correlation_id)
    except DuplicateKey:
        pass        # this capture was handled before, under this or another message id

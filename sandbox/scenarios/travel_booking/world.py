# Trusted booking partners (flight, hotel, car share this code; ctx.service says which).
# Operations honour idempotency keys; without a key, every call acts again.
# A partner has a limited number of places ("capacity"), may have none for a given trip
# ("availability"), and may be "busy" for a trip for a moment: it then answers
# {"status": "busy"}, does nothing and does NOT store that answer under the key.
# "unavailable" is final (and stored under the key).


from typing import Any

from saga_api import Context, Request

from sandbox.scenarios.world_prelude import _replay, _save


def provider_book(request: Request, ctx: Context) -> dict[str, Any]:
    trip = request.data
    fare = trip["fares"][ctx.service]
    with ctx.db.transaction() as tx:
        saved = _replay(tx, request)
        if saved:
            return saved
        busy = tx.get("busy", trip["trip_id"])
        if busy and ctx.now < busy["until"]:
            return {"status": "busy"}
        left = tx.get("capacity", "places")["left"]
        if not tx.get("availability", trip["trip_id"])["available"] or left < 1:
            return _save(tx, request, {"status": "unavailable"})
        tx.update("capacity", "places", left=left - 1)
        account = tx.get("accounts", trip["customer"])
        tx.update("accounts", trip["customer"], balance=account["balance"] - fare)
        booking_id = ctx.new_id(ctx.service)
        tx.insert(
            "bookings",
            booking_id,
            {
                "trip_id": trip["trip_id"],
                "customer": trip["customer"],
                "fare": fare,
                "status": "BOOKED",
            },
        )
        return _save(tx, request, {"status": "booked", "booking_id": booking_id})


def provider_cancel(request: Request, ctx: Context) -> dict[str, Any]:
    # Cancels the trip's booking and refunds the fare. The refund is a payment
    # instruction: for a trip that was booked here, every cancel call without an
    # idempotency key pays it again. Cancelling a trip never booked here is a no-op.
    trip = request.data
    fare = trip["fares"][ctx.service]
    with ctx.db.transaction() as tx:
        saved = _replay(tx, request)
        if saved:
            return saved
        bookings = tx.find("bookings", trip_id=trip["trip_id"])
        if not bookings:
            return _save(tx, request, {"status": "cancelled", "refunded": 0})
        for key, booking in bookings:
            if booking["status"] == "BOOKED":
                tx.update("bookings", key, status="CANCELLED")
                left = tx.get("capacity", "places")["left"]
                tx.update("capacity", "places", left=left + 1)
        account = tx.get("accounts", trip["customer"])
        tx.update("accounts", trip["customer"], balance=account["balance"] + fare)
        return _save(tx, request, {"status": "cancelled", "refunded": fare})

from ..base import Scenario, send_commands

LEGS = ("flight", "hotel", "car")
TRIPS = {
    "t1": {"trip_id": "t1", "customer": "alice", "fares": {"flight": 300, "hotel": 200, "car": 80}},
    "t2": {"trip_id": "t2", "customer": "bob", "fares": {"flight": 250, "hotel": 150, "car": 60}},
}
BALANCE = 1000


class TravelBooking(Scenario):
    name = "travel_booking"
    title = "Travel booking saga (orchestration)"
    summary = ("Book a flight, a hotel and a car for each trip (worked example B). If any leg fails, cancel "
               "the legs already booked and end the trip CANCELLED; if all succeed, end it CONFIRMED and emit "
               "BookingConfirmed. Calls time out and the orchestrator crashes.")
    lanes = ("client", "booking", "flight", "hotel", "car")
    functions = ("book_trip",)
    signatures = {"book_trip": "book_trip(command, ctx)"}
    invariants = ("orders_resolve", "confirmed_is_complete", "cancelled_is_clean", "conservation",
                  "correlation_ids_present")
    fault_kinds = ("crash", "duplicate", "request_lost", "reply_lost", "unavailable")
    rpc_ops = {(leg, op): f"provider_{op}" for leg in LEGS for op in ("book", "cancel")}
    expected = {"reference": "pass", "missing_compensation": "cancelled_is_clean",
                "non_idempotent_compensation": "conservation", "starter": "cancelled_is_clean"}

    def setup(self, world):
        world.broker.subscribe("BookTrip", "booking", "book_trip")
        for leg in LEGS:
            accounts = world.stores[leg].table("accounts")
            full = world.stores[leg].table("availability")
            for tid, trip in TRIPS.items():
                accounts[trip["customer"]] = {"balance": BALANCE}
                full[tid] = {"available": not world.plan.fires("unavailable", f"{leg}:{tid}", 0)}
        send_commands(world, "client", [("BookTrip", dict(t), f"corr-{tid}") for tid, t in TRIPS.items()])

    def facts(self, world):
        orders, conservation = {}, []
        for tid, trip in TRIPS.items():
            booked = []
            for leg in LEGS:
                rows = [r for r in world.stores[leg].rows("bookings").values()
                        if r.get("trip_id") == tid and r.get("status") == "BOOKED"]
                if rows:
                    booked.append(leg)
                balance = (world.stores[leg].get("accounts", trip["customer"]) or {}).get("balance", 0)
                paid = sum(r.get("fare", 0) for r in rows)
                conservation.append((f"{trip['customer']}'s money at {leg} (balance + booked fares)",
                                     BALANCE, balance + paid))
            row = world.stores["booking"].get("trips", tid) or {}
            orders[f"trip {tid}"] = {
                "status": row.get("status", "never created"),
                "missing": [f"the {leg} is not booked" for leg in LEGS if leg not in booked],
                "held": [f"the {leg} is still booked" for leg in booked]}
        return {"orders": orders, "conservation": conservation}


SCENARIO = TravelBooking()

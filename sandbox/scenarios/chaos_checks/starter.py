# Which faults should the experiment inject? Pick from the menu, separated by commas:
# crash, duplicate, delay, relay_crash, out_of_stock, declined, late_answer
FAULTS = "crash"


def check(run):
    """Return the problems you see in one finished run of the order saga: a list of messages,
    empty when the run is fine. `run` is plain data: run["orders"], run["initial"], run["stores"],
    run["events"], run["dead_letters"], run["settled"], run["faults"], run["trace"]."""
    problems = []
    orders = run["stores"]["order"].get("orders", {})
    for order in run["orders"]:
        row = orders.get(order["order_id"])
        if row is None or row.get("status") not in ("CONFIRMED", "CANCELLED"):
            problems.append(f"order {order['order_id']} never reached CONFIRMED or CANCELLED")
    return problems

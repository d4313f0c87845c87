# Stores a fingerprint string and the answer's fields (not the response dict), and rebuilds the answer on replay.
def _fingerprint(data):
    return "|".join(f"{k}={data[k]}" for k in sorted(data))


def charge(request, ctx):
    key = request.idempotency_key
    fingerprint = _fingerprint(request.data)
    with ctx.db.transaction() as tx:
        record = tx.get("idempotency_keys", key)
        if record is not None:
            if record["fingerprint"] != fingerprint:
                return {"error": "key reuse"}
            if record["outcome"] == "declined":
                return {"status": "declined"}
            return {"status": "charged", "charge_id": record["charge_id"]}
        amount = request.data["amount"]
        account = tx.get("accounts", request.data["customer"])
        outcome, charge_id = "declined", None
        if account["balance"] - amount >= 0:
            outcome, charge_id = "charged", ctx.new_id("charge")
            tx.put("accounts", request.data["customer"], {**account, "balance": account["balance"] - amount})
            tx.insert("charges", charge_id, {"order_id": request.data["order_id"], "amount": amount})
        tx.insert("idempotency_keys", key, {"fingerprint": fingerprint, "outcome": outcome, "charge_id": charge_id})
    if outcome == "declined":
        return {"status": "declined"}
    return {"status": "charged", "charge_id": charge_id}

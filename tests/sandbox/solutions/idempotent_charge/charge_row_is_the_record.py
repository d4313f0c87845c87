# No separate key table: the charge id is derived from the key, so the charge row itself is the record.
def charge(request, ctx):
    key = request.idempotency_key
    order_id, customer, amount = (request.data[f] for f in ("order_id", "customer", "amount"))
    charge_id = "ch-" + key
    with ctx.db.transaction() as tx:
        done = tx.get("charges", charge_id) or tx.get("declines", key)
        if done:
            if (done["order_id"], done["customer"], done["amount"]) != (order_id, customer, amount):
                return {"error": "idempotency key reused with a different payload"}
            return {"status": "charged", "charge_id": charge_id} if done["charged"] else {"status": "declined"}
        balance = tx.get("accounts", customer)["balance"]
        row = {"order_id": order_id, "customer": customer, "amount": amount}
        if balance < amount:
            tx.insert("declines", key, {**row, "charged": False})
            return {"status": "declined"}
        tx.update("accounts", customer, balance=balance - amount)
        tx.insert("charges", charge_id, {**row, "charged": True})   # a concurrent copy collides here
    return {"status": "charged", "charge_id": charge_id}

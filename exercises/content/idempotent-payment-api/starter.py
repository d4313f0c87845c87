def charge(request, ctx):
    # Charges the customer and returns the charge id.
    # The client retries with the same request.idempotency_key when it times out...
    customer = request.data["customer"]
    amount = request.data["amount"]
    with ctx.db.transaction() as tx:
        balance = tx.get("accounts", customer)["balance"]
        if balance < amount:
            return {"status": "declined"}
        charge_id = ctx.new_id("ch")
        tx.update("accounts", customer, balance=balance - amount)
        tx.insert("charges", charge_id, {"order_id": request.data["order_id"], "amount": amount})
    return {"status": "charged", "charge_id": charge_id}

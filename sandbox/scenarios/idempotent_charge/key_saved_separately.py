def charge(request, ctx):
    key = request.idempotency_key
    saved = ctx.db.get("idempotency", key)
    if saved:
        if saved["request"] != request.data:
            return {"error": "idempotency key reused with a different payload"}
        return saved["response"]
    customer = request.data["customer"]
    amount = request.data["amount"]
    with ctx.db.transaction() as tx:
        balance = tx.get("accounts", customer)["balance"]
        if balance < amount:
            response = {"status": "declined"}
        else:
            charge_id = ctx.new_id("ch")
            tx.update("accounts", customer, balance=balance - amount)
            tx.insert("charges", charge_id, {"order_id": request.data["order_id"], "amount": amount})
            response = {"status": "charged", "charge_id": charge_id}
    # Bug: the key is saved in a second transaction. A crash before it commits
    # means the client's retry charges again.
    with ctx.db.transaction() as tx:
        tx.put("idempotency", key, {"request": request.data, "response": response})
    return response

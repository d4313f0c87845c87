def charge(request, ctx):
    key = request.idempotency_key
    with ctx.db.transaction() as tx:
        saved = tx.get("idempotency", key)
        if saved:
            if saved["request"] != request.data:
                return {"error": "idempotency key reused with a different payload"}
            return saved["response"]
        customer = request.data["customer"]
        amount = request.data["amount"]
        balance = tx.get("accounts", customer)["balance"]
        if balance < amount:
            response = {"status": "declined"}
        else:
            charge_id = ctx.new_id("ch")
            tx.update("accounts", customer, balance=balance - amount)
            tx.insert("charges", charge_id, {"order_id": request.data["order_id"], "amount": amount})
            response = {"status": "charged", "charge_id": charge_id}
        # Bug: put (upsert) instead of insert. Two concurrent requests with the same key
        # both see no saved result, and both commit: the customer pays twice.
        tx.put("idempotency", key, {"request": request.data, "response": response})
    return response

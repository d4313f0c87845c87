def charge(request, ctx):
    key = request.idempotency_key
    customer = request.data["customer"]
    amount = request.data["amount"]
    with ctx.db.transaction() as tx:
        # Bug: the cheap check first. A retry of a charge whose reply was lost finds the
        # balance already reduced (by this very charge and others) and is declined,
        # although the money was taken.
        balance = tx.get("accounts", customer)["balance"]
        if balance < amount:
            return {"status": "declined"}
        saved = tx.get("idempotency", key)
        if saved:
            if saved["request"] != request.data:
                return {"error": "idempotency key reused with a different payload"}
            return saved["response"]
        charge_id = ctx.new_id("ch")
        tx.update("accounts", customer, balance=balance - amount)
        tx.insert("charges", charge_id, {"order_id": request.data["order_id"], "amount": amount})
        response = {"status": "charged", "charge_id": charge_id}
        tx.insert("idempotency", key, {"request": request.data, "response": response})
    return response

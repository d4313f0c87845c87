def charge(request, ctx):
    key = request.idempotency_key
    with ctx.db.transaction() as tx:
        saved = tx.get("idempotency", key)
        if saved:
            if saved["request"] != request.data:
                return {"error": "idempotency key reused with a different payload"}
            # Bug: remembers only the outcome, so a retry gets a charge id nobody recorded.
            if saved["status"] == "charged":
                return {"status": "charged", "charge_id": ctx.new_id("ch")}
            return {"status": saved["status"]}
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
        tx.insert("idempotency", key, {"request": request.data, "status": response["status"]})
    return response

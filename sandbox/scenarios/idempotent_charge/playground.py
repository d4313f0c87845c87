USE_KEY = True
from saga_api import Context, Request  # noqa: E402  (the payment API; USE_KEY: honour the key)


def charge(request: Request, ctx: Context) -> object:
    key: str = request.idempotency_key  # type: ignore[assignment]  # the client always sends one
    with ctx.db.transaction() as tx:
        if USE_KEY:
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
            tx.insert(
                "charges", charge_id, {"order_id": request.data["order_id"], "amount": amount}
            )
            response = {"status": "charged", "charge_id": charge_id}
        if USE_KEY:
            tx.insert("idempotency", key, {"request": request.data, "response": response})
    return response

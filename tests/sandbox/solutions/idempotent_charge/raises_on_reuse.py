# Rejects a reused key by raising an exception (the other accepted error form) and keeps answers in one table.
class KeyReused(Exception):
    pass


def charge(request, ctx):
    with ctx.db.transaction() as tx:
        previous = tx.get("answers", request.idempotency_key)
        if previous:
            if previous["request"] == request.data:
                return previous["answer"]
            raise KeyReused(f"key {request.idempotency_key} belongs to another payment")
        order = request.data
        balance = tx.get("accounts", order["customer"])["balance"]
        answer = {"status": "declined"}
        if order["amount"] <= balance:
            answer = {"status": "charged", "charge_id": ctx.new_id("ch")}
            tx.insert("charges", answer["charge_id"], {"order_id": order["order_id"], "amount": order["amount"]})
            tx.update("accounts", order["customer"], balance=balance - order["amount"])
        tx.insert("answers", request.idempotency_key, {"request": order, "answer": answer})
        return answer

# Claims the key first with tx.insert and catches DuplicateKey to replay, instead of reading the key before acting.
from saga_api import DuplicateKey


def charge(request, ctx):
    key = request.idempotency_key
    data = request.data
    try:
        with ctx.db.transaction() as tx:
            tx.insert("requests", key, {"payload": dict(data)})     # DuplicateKey if seen before
            account = tx.get("accounts", data["customer"])
            if account["balance"] >= data["amount"]:
                charge_id = ctx.new_id("ch")
                tx.update("accounts", data["customer"], balance=account["balance"] - data["amount"])
                tx.insert("charges", charge_id, {"order_id": data["order_id"], "amount": data["amount"]})
                answer = {"status": "charged", "charge_id": charge_id}
            else:
                answer = {"status": "declined"}
            tx.update("requests", key, answer=answer)
        return answer
    except DuplicateKey:
        seen = ctx.db.get("requests", key)
        if seen["payload"] != data:
            return {"error": "this idempotency key was used for another payment"}
        return seen["answer"]

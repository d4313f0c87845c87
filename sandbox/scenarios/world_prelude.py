# Prepended to every scenario's world.py (trusted participants) by Scenario.world_source.
# It lives here, not in sandbox/guest/, so learner code in the jail cannot import a
# ready-made idempotency-key store for the exercises that ask them to write one.


def _replay(tx, request):
    """The stored result of an earlier request with the same idempotency key, if any."""
    if request.idempotency_key:
        saved = tx.get("keys", request.idempotency_key)
        if saved:
            return saved["result"]
    return None


def _save(tx, request, result):
    if request.idempotency_key:
        tx.insert("keys", request.idempotency_key, {"result": result})
    return result

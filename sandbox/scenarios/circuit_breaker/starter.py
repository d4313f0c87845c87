def allow_request(request, ctx):
    # Called when a client request arrives: True sends the call to Inventory now,
    # False fails the request at once. For now every request is sent, even while
    # Inventory is down. (Where will you keep the breaker's state between calls?)
    return True


def record_result(result, ctx):
    # Called when a call that was sent comes back: result.data["ok"] is True or False.
    pass

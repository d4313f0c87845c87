def retry_delay(attempt, rand):
    # Bug: jittered and capped, but three quick retries cannot outlast even a short outage.
    if attempt >= 3:
        return None
    return rand * 100

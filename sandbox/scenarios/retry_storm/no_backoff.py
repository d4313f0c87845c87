def retry_delay(attempt, rand):
    # Bug: retries at a fixed, short interval (jittered, capped, but no backoff):
    # the crowd keeps hammering the service for as long as it is down.
    if attempt >= 30:
        return None
    return 50 + rand * 100

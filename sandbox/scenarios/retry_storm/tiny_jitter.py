BASE_MS = 200
MAX_DELAY_MS = 5_000
MAX_ATTEMPTS = 10


def retry_delay(attempt, rand):
    # Bug: the jitter is a few milliseconds on top of a backoff of seconds. The clients
    # that failed together still come back within the same instant.
    if attempt >= MAX_ATTEMPTS:
        return None
    return min(MAX_DELAY_MS, BASE_MS * 2 ** attempt) + rand * 10

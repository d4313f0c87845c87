BASE_MS = 200
MAX_DELAY_MS = 5_000
MAX_ATTEMPTS = 8


def retry_delay(attempt, rand):
    # Bug: exponential backoff but no jitter. Every client that failed together
    # retries together, so the recovering service sees the whole crowd at once.
    if attempt >= MAX_ATTEMPTS:
        return None
    return min(MAX_DELAY_MS, BASE_MS * 2 ** attempt)

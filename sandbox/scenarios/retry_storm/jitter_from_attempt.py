BASE_MS = 200
MAX_DELAY_MS = 5_000
MAX_ATTEMPTS = 10


def retry_delay(attempt, rand):
    # Bug: "jitter" computed from the attempt number instead of the random input: it
    # looks random, but every client gets the same value, so they stay in step.
    if attempt >= MAX_ATTEMPTS:
        return None
    ceiling = min(MAX_DELAY_MS, BASE_MS * 2 ** attempt)
    pseudo = (attempt * 7919 % 100) / 100
    return ceiling / 2 + pseudo * ceiling / 2

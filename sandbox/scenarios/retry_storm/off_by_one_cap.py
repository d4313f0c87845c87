BASE_MS = 200
MAX_DELAY_MS = 5_000
MAX_ATTEMPTS = 10


def retry_delay(attempt, rand):
    # Bug: `>` instead of `>=`: the client still retries after its 10th attempt,
    # so it makes 11 attempts in all.
    if attempt > MAX_ATTEMPTS:
        return None
    ceiling = min(MAX_DELAY_MS, BASE_MS * 2 ** attempt)
    return rand * ceiling

STEP_MS = 300
MAX_ATTEMPTS = 10


def retry_delay(attempt, rand):
    # Bug: linear backoff and no jitter: the waits grow, but every client waits exactly
    # as long as every other, so the whole crowd arrives together on every attempt.
    if attempt >= MAX_ATTEMPTS:
        return None
    return STEP_MS * attempt

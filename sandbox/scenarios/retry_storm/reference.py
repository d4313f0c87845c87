BASE_MS = 200
MAX_DELAY_MS = 5_000
MAX_ATTEMPTS = 10


def retry_delay(attempt, rand):
    """Exponential backoff with full jitter and a cap; None means give up."""
    if attempt >= MAX_ATTEMPTS:
        return None                                # give up: dead-letter / alert / compensate
    ceiling = min(MAX_DELAY_MS, BASE_MS * 2 ** attempt)
    return rand * ceiling                          # anywhere in [0, ceiling): clients drift apart

BASE_MS = 200
MAX_DELAY_MS = 5_000
MAX_ATTEMPTS = 10


def retry_delay(attempt, rand):
    """Exponential backoff with jitter and a cap; None means give up."""
    if attempt >= MAX_ATTEMPTS:
        return None                                # give up: dead-letter / alert / compensate
    ceiling = min(MAX_DELAY_MS, BASE_MS * 2 ** attempt)
    # "Equal jitter": wait at least half the backoff, plus a random part of the other half.
    # Clients that failed together drift apart, and nobody burns its attempts too fast.
    return ceiling / 2 + rand * ceiling / 2

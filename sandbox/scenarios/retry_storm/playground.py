# Playground version of the retry policy. Toggles: BACKOFF, JITTER, CAP.


def retry_delay(attempt, rand):
    if CAP and attempt >= 10:
        return None
    ceiling = min(5_000, 200 * 2 ** attempt) if BACKOFF else 200
    return ceiling / 2 + rand * ceiling / 2 if JITTER else ceiling

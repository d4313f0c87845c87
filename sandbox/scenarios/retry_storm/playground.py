BACKOFF = True
JITTER = True
CAP = True
# Playground version of the retry policy. Toggles: BACKOFF, JITTER, CAP.
# The cap: 10 attempts with backoff. Without backoff 10 attempts are gone in a second, so the
# cap allows 50 quick ones (a few seconds of retrying), and the crowd keeps hammering.


def retry_delay(attempt: int, rand: float) -> float | None:
    if CAP and attempt >= (10 if BACKOFF else 50):
        return None
    ceiling = min(5_000, 200 * 2**attempt) if BACKOFF else 200
    return ceiling / 2 + rand * ceiling / 2 if JITTER else ceiling

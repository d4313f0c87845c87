# Playground version of the retry policy. Toggles: BACKOFF, JITTER, CAP.
# The cap is a retry budget of roughly ten seconds: with backoff that is 10 attempts;
# without backoff the same budget buys 50 quick attempts, and the crowd keeps hammering.


def retry_delay(attempt, rand):
    if CAP and attempt >= (10 if BACKOFF else 50):
        return None
    ceiling = min(5_000, 200 * 2 ** attempt) if BACKOFF else 200
    return ceiling / 2 + rand * ceiling / 2 if JITTER else ceiling

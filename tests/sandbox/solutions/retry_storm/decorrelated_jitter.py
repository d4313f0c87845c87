# Decorrelated-style jitter written without state: uniform between the base and a ceiling that triples per attempt.
BASE_MS = 150
CAP_MS = 4_000
LAST_ATTEMPT = 9


def retry_delay(attempt, rand):
    if attempt > LAST_ATTEMPT:        # 9 attempts in all
        return None
    ceiling = BASE_MS * 3 ** attempt
    return min(CAP_MS, BASE_MS + rand * (ceiling - BASE_MS))

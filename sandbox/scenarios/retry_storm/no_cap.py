BASE_MS = 200
MAX_DELAY_MS = 5_000


def retry_delay(attempt, rand):
    # Bug: never gives up. A client whose dependency stays down retries forever.
    return rand * min(MAX_DELAY_MS, BASE_MS * 2 ** attempt)

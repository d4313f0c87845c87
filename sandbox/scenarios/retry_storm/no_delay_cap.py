BASE_MS = 200
MAX_ATTEMPTS = 10


def retry_delay(attempt, rand):
    # Bug: exponential backoff with full jitter but no cap on a single wait: by the
    # ninth retry the ceiling is 100 s, longer than the whole window.
    if attempt >= MAX_ATTEMPTS:
        return None
    return rand * BASE_MS * 2 ** attempt

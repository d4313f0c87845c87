# Equal jitter from a precomputed table of ceilings, with a lookup instead of a formula and a smaller attempt cap.
CEILINGS_MS = [300, 600, 1_200, 2_400, 4_000, 4_000, 4_000, 4_000]


def retry_delay(attempt, rand):
    if attempt > len(CEILINGS_MS):
        return None
    ceiling = CEILINGS_MS[attempt - 1]
    half = ceiling // 2
    return half + int(rand * half)

"""The learning path's modules, in order, and the Quick Test's topics (the course syllabus)."""

MODULES: dict[int, str] = {
    0: "Why it matters",
    1: "Idempotency and retries at the API edge",
    2: "Transactional messaging: the outbox",
    3: "Sagas",
    4: "Two-phase commit",
    5: "Operating it",
}

TOPICS: dict[str, str] = {
    "foundations": "Why it matters",
    "idempotency": "Idempotency keys",
    "retries": "Retries, backoff and jitter",
    "outbox": "The outbox",
    "consumers": "Idempotent consumers",
    "sagas": "Sagas",
    "two-phase-commit": "Two-phase commit",
    "operations": "Operating sagas",
    "design": "Design procedure",
    "unknown-outcomes": "Unknown outcomes and late replies",
    "isolation": "Isolation between sagas",
    "try-confirm-cancel": "Try-confirm/cancel and expiring holds",
}

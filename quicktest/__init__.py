"""The Quick Test: a question bank anyone can take without an account.

Its models (Question, QuizAttempt, QuizAnswer) stay in ``lessons`` so no table moves.
"""

"""Celery tasks of the instructor area (validation of exercise versions)."""

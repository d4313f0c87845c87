import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "courseapp.settings")

app = Celery("courseapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _warm_grader(**_kwargs: object) -> None:
    """Each pool process starts its warm grader server as it starts, so that its first grading
    does not wait for the server's imports (sandbox/isolated.py)."""
    from sandbox.isolated import start_server  # a pool process's own; never the parent's

    start_server()

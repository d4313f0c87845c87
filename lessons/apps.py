from django.apps import AppConfig


class LessonsConfig(AppConfig):
    name = "lessons"

    def ready(self) -> None:
        from lessons import signals  # noqa: F401  (attach anonymous work at log-in)

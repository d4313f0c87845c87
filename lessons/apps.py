from django.apps import AppConfig


class LessonsConfig(AppConfig):
    name = "lessons"

    def ready(self) -> None:
        from lessons import progress, signals  # noqa: F401  (attach anonymous work at log-in)

        progress.connect_signals()

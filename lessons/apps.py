from django.apps import AppConfig


class LessonsConfig(AppConfig):
    name = "lessons"

    def ready(self) -> None:
        # Signals connect once the app registry is ready (progress imports models).
        from lessons import progress

        progress.connect_signals()

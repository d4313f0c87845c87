from django.apps import AppConfig


class ExercisesConfig(AppConfig):
    name = "exercises"

    def ready(self) -> None:
        # exercises.relay sends the tasks by name: register them in every process, not only workers.
        from exercises import tasks  # noqa: F401

from django.apps import AppConfig


class QuickTestConfig(AppConfig):
    name = "quicktest"
    verbose_name = "Quick Test"

    def ready(self) -> None:
        # Connects the receiver that keeps an anonymous learner's attempts at log-in.
        from quicktest import signals  # noqa: F401

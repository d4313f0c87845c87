from django.contrib import admin

from exercises.models import Exercise, ExerciseVersion, GradingRequest, HintUse, Submission


@admin.register(Exercise)
class ExerciseAdmin(admin.ModelAdmin):
    list_display = ("slug", "title", "module", "order", "published_version")
    list_filter = ("module",)
    search_fields = ("slug", "title")


@admin.register(ExerciseVersion)
class ExerciseVersionAdmin(admin.ModelAdmin):
    list_display = ("exercise", "number", "scenario", "created_at", "validated_at")
    list_filter = ("scenario",)
    readonly_fields = ("content_hash", "statement_html")


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ("id", "exercise", "user", "status", "deliveries", "created_at", "finished_at")
    list_filter = ("status", "exercise")
    search_fields = ("id", "user__email", "correlation_id")
    readonly_fields = (
        "code",
        "result",
        "client_token",
        "correlation_id",
        "claimed_by",
        "deliveries",
    )


@admin.register(GradingRequest)
class GradingRequestAdmin(admin.ModelAdmin):
    list_display = ("submission", "created_at", "dispatched_at", "dispatch_count")


@admin.register(HintUse)
class HintUseAdmin(admin.ModelAdmin):
    list_display = ("user", "exercise", "revealed")

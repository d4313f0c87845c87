from django.urls import path

from teach import views as teach

app_name = "teach"
urlpatterns = [
    path("", teach.index, name="index"),
    path("preview/", teach.preview, name="preview"),
    path("exercises/new/", teach.exercise_new, name="exercise_new"),
    path("exercises/<slug:slug>/", teach.exercise, name="exercise"),
    path("exercises/<slug:slug>/edit/", teach.exercise_edit, name="exercise_edit"),
    path("exercises/<slug:slug>/stats/", teach.stats, name="stats"),
    path("exercises/<slug:slug>/export/", teach.export, name="export"),
    path("exercises/<slug:slug>/v<int:number>/", teach.version, name="version"),
    path("exercises/<slug:slug>/v<int:number>/validate/", teach.validate, name="validate"),
    path("exercises/<slug:slug>/v<int:number>/publish/", teach.publish, name="publish"),
    path("questions/", teach.questions, name="questions"),
    path("questions/<slug:key>/edit/", teach.question_edit, name="question_edit"),
    path("questions/<slug:key>/preview/", teach.question_preview, name="question_preview"),
    path("questions/<slug:key>/yaml/", teach.question_yaml, name="question_yaml"),
]

from django.urls import path

from quicktest import views as quiz_views

app_name = "quiz"
urlpatterns = [
    path("", quiz_views.start, name="start"),
    path("new/", quiz_views.new, name="new"),
    path("<int:attempt_id>/", quiz_views.attempt, name="attempt"),
    path("<int:attempt_id>/answer/", quiz_views.answer, name="answer"),
    path("<int:attempt_id>/result/", quiz_views.result, name="result"),
]

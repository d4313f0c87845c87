from django.urls import path

from lessons import quiz_views

app_name = "quiz"
urlpatterns = [
    path("", quiz_views.start, name="start"),
]

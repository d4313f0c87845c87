from django.urls import include, path

from lessons import views

lesson_patterns = ([
    path("", views.index, name="index"),
    path("<slug:slug>/", views.detail, name="detail"),
], "lessons")

urlpatterns = [
    path("lessons/", include(lesson_patterns)),
    path("dashboard/", views.dashboard, name="dashboard"),
]

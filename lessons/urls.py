from django.urls import include, path

from lessons import views

lesson_patterns = (
    [
        path("", views.index, name="index"),
        path("<slug:slug>/", views.detail, name="detail"),
        path("<slug:slug>/complete/", views.complete, name="complete"),
    ],
    "lessons",
)

urlpatterns = [
    path("lessons/", include(lesson_patterns)),
]

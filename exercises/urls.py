from django.urls import path

from exercises import views

app_name = "exercises"
urlpatterns = [
    path("", views.index, name="index"),
    path("submissions/<uuid:pk>/", views.submission, name="submission"),
    path("submissions/<uuid:pk>/replay/", views.replay, name="replay"),
    path("replays/<uuid:pk>/", views.replay_status, name="replay_status"),
    path("runs/<uuid:run_id>/", views.run_status, name="run_status"),
    path("<slug:slug>/", views.detail, name="detail"),
    path("<slug:slug>/submit/", views.submit, name="submit"),
    path("<slug:slug>/run/", views.run, name="run"),
    path("<slug:slug>/hints/", views.hint, name="hint"),
    path("<slug:slug>/history/", views.history, name="history"),
]

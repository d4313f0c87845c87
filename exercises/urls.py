from django.urls import path

from exercises import views

app_name = "exercises"
urlpatterns = [
    path("", views.index, name="index"),
    path("<slug:slug>/", views.detail, name="detail"),
]

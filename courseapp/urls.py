from django.contrib import admin
from django.urls import include, path

from courseapp import views

urlpatterns = [
    path("", views.home, name="home"),
    path("health/", views.health, name="health"),
    path("health/live/", views.live, name="live"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("account/data/", views.account_data, name="account_data"),
    path("account/delete/", views.account_delete, name="account_delete"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("", include("lessons.urls")),
    path("quick-test/", include("quicktest.urls")),
    path("exercises/", include("exercises.urls")),
    path("teach/", include("teach.urls")),
]

import json

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from courseapp import dashboard as dashboard_data
from courseapp import health as probes
from courseapp.export import learner_data


def home(request):
    return render(request, "courseapp/home.html")


@never_cache
def dashboard(request):
    return render(request, "courseapp/dashboard.html", dashboard_data.summary(request))


@login_required
def account_data(request):
    body = json.dumps(learner_data(request.user), indent=2)
    response = HttpResponse(body, content_type="application/json")
    response["Content-Disposition"] = 'attachment; filename="saga-school-my-data.json"'
    return response


@login_required
def account_delete(request):
    if request.method == "POST":
        if request.POST.get("confirm", "").strip().lower() != "delete my account":
            messages.error(request, "Type “delete my account” to confirm. Nothing was deleted.")
            return render(request, "courseapp/account_delete.html", status=400)
        user = request.user
        logout(request)
        user.delete()
        messages.success(request, "Your account and all its data have been deleted.")
        return redirect("home")
    return render(request, "courseapp/account_delete.html")


@never_cache
def health(request):
    checks = {name: probe() for name, probe in
              (("database", probes.database), ("broker", probes.broker), ("jail", probes.jail))}
    ok = all(passed for passed, _ in checks.values())
    body = {"status": "ok" if ok else "down",
            **{name: {"ok": passed, "detail": detail} for name, (passed, detail) in checks.items()}}
    return JsonResponse(body, status=200 if ok else 503)

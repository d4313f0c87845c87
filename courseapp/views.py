import json

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

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


# Required for the site to work at all; without a worker, grading only waits.
REQUIRED_CHECKS = (("database", probes.database), ("broker", probes.broker), ("jail", probes.jail))
INFO_CHECKS = (
    ("workers", probes.workers),
    ("queue_depth", probes.queue_depth),
    ("low_lane", probes.low_lane),
    ("retired_submissions", probes.retired_submissions),
)


def live(request):
    """Liveness: the process answers. Also the hello-world baseline of the benchmarks."""
    return HttpResponse("ok", content_type="text/plain")


@never_cache
def health(request):
    required = {name: probe() for name, probe in REQUIRED_CHECKS}
    ok = all(passed for passed, _ in required.values())
    info = {name: probe() for name, probe in INFO_CHECKS} if ok else {}
    degraded = not all(passed for passed, _ in info.values())
    body = {
        "status": "down" if not ok else "degraded" if degraded else "ok",
        **{
            name: {"ok": passed, "detail": detail}
            for name, (passed, detail) in {**required, **info}.items()
        },
    }
    return JsonResponse(body, status=200 if ok else 503)

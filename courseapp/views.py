import hashlib
import json
import secrets
import threading
from collections import OrderedDict

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.messages import get_messages
from django.http import HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache

from courseapp import dashboard as dashboard_data
from courseapp import health as probes
from courseapp.context_processors import teach_link
from courseapp.export import learner_data


def home(request):
    return render(request, "courseapp/home.html")


@never_cache
def dashboard(request):
    context = dashboard_data.summary(request)
    if len(get_messages(request)):  # shown once: this page is not the same again
        return render(request, "courseapp/dashboard.html", context)
    return HttpResponse(_dashboard_page(request, context))


# The dashboard is kept rendered, in this process, by everything it shows: the learner's data as
# summary() read it just now (plain values), who they are and what the navigation offers them.
# Whatever changed, the key changed, so a page is only ever served to the learner it was rendered
# for, with what their data is now. Its CSRF token is a stand-in each response replaces with its
# own (random per process, so no title or e-mail address can contain it).
_TOKEN_STAND_IN = "csrf-stand-in-" + secrets.token_hex(16)
_PAGES: OrderedDict[str, list[bytes]] = OrderedDict()
_PAGES_KEPT = 512
_pages_lock = threading.Lock()


def _dashboard_page(request, context: dict) -> bytes:
    user = request.user
    can_teach = teach_link(request)["can_teach"]()
    shown = (
        user.pk,
        user.is_authenticated and user.email,
        can_teach,
        request.get_full_path(),
        sorted(context.items()),
    )
    key = hashlib.sha256(repr(shown).encode()).hexdigest()
    with _pages_lock:
        parts = _PAGES.get(key)
        if parts is not None:
            _PAGES.move_to_end(key)
    if parts is None:
        page = render_to_string(
            "courseapp/dashboard.html",
            {**context, "can_teach": can_teach, "csrf_token": _TOKEN_STAND_IN},
            request=request,
        )
        # Kept encoded and cut at the stand-ins: a response is the parts joined by its token.
        parts = page.encode().split(_TOKEN_STAND_IN.encode())
        with _pages_lock:
            _PAGES[key] = parts
            while len(_PAGES) > _PAGES_KEPT:
                _PAGES.popitem(last=False)
    # get_token() also tells the CSRF middleware to send the cookie the token belongs to.
    return get_token(request).encode().join(parts)


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

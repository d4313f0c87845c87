from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from courseapp import health as probes


def home(request):
    return render(request, "courseapp/home.html")


@never_cache
def health(request):
    checks = {name: probe() for name, probe in
              (("database", probes.database), ("broker", probes.broker), ("jail", probes.jail))}
    ok = all(passed for passed, _ in checks.values())
    body = {"status": "ok" if ok else "down",
            **{name: {"ok": passed, "detail": detail} for name, (passed, detail) in checks.items()}}
    return JsonResponse(body, status=200 if ok else 503)

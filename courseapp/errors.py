"""A part of the platform is down: answer with a clear 503 page, never a 500.

When the database, the cache or the broker cannot be reached, the request
fails with a connection error somewhere (a view, a template, a middleware).
Django turns any uncaught exception into its 500 page; before it does, it
sends `got_request_exception`, and `note_outage` marks the request with the
part that failed. The outermost middleware of ours (`CorrelationIdMiddleware`)
then swaps the 500 for `outage_response`: a 503 in the site's layout that
says which part is down, that nothing already saved was lost, and, for a
form that was posted, hands the posted fields back with a "Try again" button
(the exercise form carries an idempotency token, so a submission that was in
fact saved is never made twice).

Rendering the page touches no database, cache or session: the user and the
messages are not looked up (they may be what is down).
"""

from __future__ import annotations

import logging
import sys

import kombu.exceptions
import psycopg
import redis.exceptions
from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.dispatch import receiver
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.template.loader import render_to_string

from courseapp.lib.headers import CSP

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 15
# Posted fields never echoed back into a page.
_NOT_ECHOED = ("csrfmiddlewaretoken", "password", "secret", "token_secret")
_MAX_ECHO_CHARS = 128 * 1024

PARTS = {
    "database": (
        "Our database is unreachable",
        "The site cannot read or save anything for a moment (the database is restarting or "
        "unreachable).",
    ),
    "cache": (
        "Part of our storage is unreachable",
        "A service the site keeps shared state in (the cache) is restarting or unreachable.",
    ),
    "broker": (
        "Our grading queue is unreachable",
        "The queue that hands work to the graders is restarting or unreachable.",
    ),
}


def _outage_types() -> dict[type, str]:
    types: dict[type, str] = {OperationalError: "database", InterfaceError: "database"}
    types[psycopg.OperationalError] = "database"
    types[psycopg.InterfaceError] = "database"
    types[redis.exceptions.ConnectionError] = "cache"
    types[redis.exceptions.TimeoutError] = "cache"
    types[kombu.exceptions.OperationalError] = "broker"
    return types


_TYPES: dict[type, str] | None = None


def outage_part(exc: BaseException | None) -> str | None:
    """Which part of the platform an exception says is unreachable, or None for any other error.

    Follows the exception's cause chain, so a wrapped connection error counts too."""
    global _TYPES
    if _TYPES is None:
        _TYPES = _outage_types()
    seen = 0
    while exc is not None and seen < 10:
        for kind, part in _TYPES.items():
            if isinstance(exc, kind):
                return part
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


@receiver(got_request_exception, dispatch_uid="courseapp.errors.note_outage")
def note_outage(sender, request=None, **kwargs) -> None:
    part = outage_part(sys.exc_info()[1])
    if part and request is not None:
        request.saga_outage = part
        log.error(
            "%s unreachable while serving %s %s: %s",
            part,
            request.method,
            request.path,
            sys.exc_info()[1],
        )


def replace_if_outage(request, response):
    """Called by the outermost middleware: a 5xx caused by an outage becomes the 503 page."""
    part = getattr(request, "saga_outage", None)
    if part and response.status_code >= 500:
        return outage_response(request, part)
    return response


def outage_response(request, part: str) -> HttpResponse:
    title, what = PARTS.get(part, PARTS["database"])
    posted = request.method == "POST"
    fields, dropped_file = [], False
    if posted:
        try:
            fields = [
                (name, value)
                for name, value in request.POST.items()
                if not any(word in name.lower() for word in _NOT_ECHOED)
            ]
            dropped_file = bool(request.FILES)
        except Exception:  # noqa: BLE001 - an unreadable body: nothing to hand back
            fields = []
        if sum(len(value) for _, value in fields) > _MAX_ECHO_CHARS:
            fields = []
    context = {
        "title": title,
        "what": what,
        "part": part,
        "posted": posted,
        "action": request.path,
        "code": next((value for name, value in fields if name == "code"), None),
        "hidden": [(name, value) for name, value in fields if name != "code"],
        "dropped_file": dropped_file,
        "retry_after": RETRY_AFTER_SECONDS,
        # What base.html reads, without looking up the user, the session or the messages.
        "request": request,
        "user": _Anonymous(),
        "csrf_token": _csrf(request),
    }
    body: str
    try:
        body = render_to_string("503.html", context)
    except Exception:  # noqa: BLE001 - the page must render even when the layout cannot
        log.exception("the 503 page could not be rendered; sending the plain one")
        body = (
            f"<!DOCTYPE html><title>{title} · Saga School</title><h1>{title}</h1><p>{what}</p>"
            "<p>Nothing was lost: what you saved before is safe. Please try again in a minute.</p>"
        )
    response = HttpResponse(body, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    # Made outside the inner middleware that would add these.
    response["Content-Security-Policy"] = CSP
    response["X-Frame-Options"] = "DENY"
    if posted and request.headers.get("HX-Request") == "true":
        # htmx swaps nothing on a 5xx, so the click would seem to do nothing: reload the page instead,
        # which shows this page while the part is still down. (A failed poll just polls again.)
        response["HX-Refresh"] = "true"
    return response


def _csrf(request) -> str:
    try:
        return get_token(request)
    except Exception:  # noqa: BLE001
        return ""


class _Anonymous:
    is_authenticated = False
    is_anonymous = True
    email = ""

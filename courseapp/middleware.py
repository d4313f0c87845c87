"""Site-wide middleware: a correlation id per request, a clear 503 page when a
service is down (see courseapp/errors.py), and a strict CSP."""

from __future__ import annotations

import re
import uuid

from courseapp import errors
from courseapp.lib.correlation import correlation_id
from courseapp.lib.headers import CSP

_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class CorrelationIdMiddleware:
    """Take the caller's X-Request-ID when it looks sane, else mint one, so one
    id follows a request through the logs and into the tasks it starts."""

    def __init__(self, get_response):
        self.get_response = get_response
        # Outermost of our middleware: a 500 caused by an unreachable database, cache or broker
        # becomes the 503 page here (errors.py connects the signal that notices the outage).
        self.replace_if_outage = errors.replace_if_outage

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        cid = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex[:16]
        request.correlation_id = cid
        token = correlation_id.set(cid)
        try:
            response = self.replace_if_outage(request, self.get_response(request))
        finally:
            correlation_id.reset(token)
        response["X-Request-ID"] = cid
        return response


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CSP)
        return response

"""A small load generator: N client processes hammer one scenario for a
bounded time on loopback and report throughput, latency percentiles and 5xx."""

from __future__ import annotations

import http.cookiejar
import multiprocessing
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field


@dataclass
class Result:
    requests: int = 0
    errors_5xx: int = 0
    other_errors: int = 0
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    # Requests per second of the time each client spent on measured requests, summed over the
    # clients: a scenario's set-up steps (reading the next question, starting a test) load the
    # server as before but count neither as requests nor in the time.
    rate: float = 0.0
    # The server's CPU time per measured request, when the caller measured it (bench/pages.py).
    server_cpu_ms: float | None = None

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


class Client:
    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def csrf(self) -> str:
        return next((c.value for c in self.jar if c.name == "csrftoken"), "")

    def get(self, path: str, htmx: bool = False) -> tuple[int, str]:
        headers = {"HX-Request": "true"} if htmx else {}
        return self._send(urllib.request.Request(self.base + path, headers=headers))

    def post(self, path: str, data: dict, htmx: bool = False) -> tuple[int, str]:
        body = urllib.parse.urlencode(
            {**data, "csrfmiddlewaretoken": self.csrf()}, doseq=True
        ).encode()
        headers = {"Referer": self.base + path, "X-CSRFToken": self.csrf()}
        if htmx:  # the browser's path: a partial back, no redirect
            headers["HX-Request"] = "true"
        request = urllib.request.Request(self.base + path, data=body, headers=headers)
        return self._send(request)

    def _send(self, request) -> tuple[int, str]:
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace")

    def login(self, email: str, password: str) -> None:
        self.get("/accounts/login/")
        status, _ = self.post("/accounts/login/", {"login": email, "password": password})
        if status >= 400:
            raise RuntimeError(f"bench login failed: {status}")


def answer_fields(html: str) -> dict:
    """A valid (not necessarily right) answer for the question on the page."""
    key = re.search(r'name="question" value="([^"]+)"', html)
    if not key:
        return {}
    fields: dict = {"question": key.group(1)}
    positions = re.findall(r'name="(position-\d+)"', html)
    if positions:
        for index, name in enumerate(sorted(set(positions))):
            fields[name] = str(index + 1)
    elif 'value="true"' in html:
        fields["choice"] = "true"
    else:
        fields["choice"] = "0"
    return fields


def signed_in(base: str, login: tuple[str, str], clients: int) -> list[list]:
    """The session cookies of `clients` fresh log-ins, for hammer(cookies=...): a log-in hashes
    the password (a deliberately slow function), which is no part of the page being measured."""
    sessions = []
    for _ in range(clients):
        client = Client(base)
        client.login(*login)
        sessions.append(list(client.jar))
    return sessions


def _worker(args) -> Result:
    base, scenario, seconds, login, *rest = args
    client = Client(base)
    for cookie in rest[0] if rest else []:
        client.jar.set_cookie(cookie)
    if login:
        client.login(*login)
    result = Result()
    state: dict = {}
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    set_up = 0.0
    while time.perf_counter() < deadline:
        began = time.perf_counter()
        try:
            status = scenario(client, state)
        except OSError:
            result.other_errors += 1
            continue
        if status is None:  # set-up step, not measured
            set_up += time.perf_counter() - began
            continue
        result.latencies.append(time.perf_counter() - began)
        result.requests += 1
        if status >= 500:
            result.errors_5xx += 1
    result.seconds = time.perf_counter() - start
    measured = result.seconds - set_up
    result.rate = result.requests / measured if measured > 0 else 0.0
    return result


def hammer(
    base: str,
    scenario,
    seconds: float,
    clients: int,
    login: tuple[str, str] | None = None,
    cookies: list[list] | None = None,
) -> Result:
    """`login`: each client logs in first (on the server's clock); `cookies`: each client starts
    with its own of these sessions (from signed_in(), before the caller's clock starts)."""
    if cookies is not None:
        args = [(base, scenario, seconds, None, jar) for jar in cookies[:clients]]
    else:
        args = [(base, scenario, seconds, login)] * clients
    with multiprocessing.get_context("fork").Pool(clients) as pool:
        parts = pool.map(_worker, args)
    total = Result(seconds=max(p.seconds for p in parts), rate=sum(p.rate for p in parts))
    for part in parts:
        total.requests += part.requests
        total.errors_5xx += part.errors_5xx
        total.other_errors += part.other_errors
        total.latencies.extend(part.latencies)
    return total


# Scenarios: each returns the measured request's status, or None for an unmeasured set-up step.


def hello(client: Client, state: dict):
    return client.get("/health/live/")[0]


def lesson_page(client: Client, state: dict):
    return client.get("/lessons/sagas-and-choreography/")[0]


def dashboard(client: Client, state: dict):
    return client.get("/dashboard/")[0]


def quiz_answer(client: Client, state: dict):
    """Only the answer POST is measured; starting a test and reading each question (the GET that
    follows an answer in the browser too) are set-up steps."""
    if not state.get("attempt"):
        client.get("/quick-test/")
        status, html = client.post("/quick-test/new/", {})
        match = re.search(r'action="(/quick-test/\d+/answer/)"', html)
        state["attempt"] = match.group(1) if match else None
        state["fields"] = answer_fields(html)
        return None
    if not state.get("fields"):
        # Read the next question as the feedback's "Next question" button does (hx-get, a
        # partial), or learn that the test is over and start another.
        page = client.get(state["attempt"].replace("answer/", ""), htmx=True)[1]
        state["fields"] = answer_fields(page)
        if not state["fields"]:
            state["attempt"] = None
        return None
    status, _ = client.post(state["attempt"], state.pop("fields"), htmx=True)
    return status

"""Web security of the platform: CSRF, rate limits, headers, private pages."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


POST_URLS = [
    "/accounts/login/",
    "/accounts/signup/",
    "/accounts/logout/",
    "/accounts/password/reset/",
    "/quick-test/new/",
    "/lessons/idempotency-keys/complete/",
    "/account/delete/",
]


@pytest.mark.parametrize("url", POST_URLS)
def test_post_without_csrf_token_is_refused(content, alice, url):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(url, {}).status_code == 403


def test_repeated_failed_logins_are_rate_limited(client, alice, password):
    for n in range(6):
        client.post("/accounts/login/", {"login": alice.email, "password": f"wrong-{n}"})
    # Even the right password is refused while the limit holds.
    response = client.post("/accounts/login/", {"login": alice.email, "password": password})
    assert "Too many failed login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_password_reset_requests_are_rate_limited(client, alice):
    statuses = [
        client.post("/accounts/password/reset/", {"email": alice.email}).status_code
        for _ in range(8)
    ]
    assert 429 in statuses


def test_signups_are_rate_limited(client):
    statuses = [
        client.post(
            "/accounts/signup/",
            {
                "email": f"spam{n}@example.com",
                "password1": "a-long-secret-phrase-1",
                "password2": "a-long-secret-phrase-1",
            },
        ).status_code
        for n in range(25)
    ]
    assert 429 in statuses


def test_admin_is_closed_to_learners(alice_client):
    response = alice_client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_security_headers_are_set(client):
    response = client.get("/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_templates_use_no_inline_scripts_or_styles(client, content):
    for url in [
        "/",
        "/lessons/",
        "/lessons/sagas-and-choreography/",
        "/quick-test/",
        "/exercises/",
        "/dashboard/",
        "/accounts/login/",
    ]:
        html = client.get(url).content.decode()
        assert "<script>" not in html and "<script " not in html.replace("<script src=", ""), url
        assert " style=" not in html and "<style" not in html, url
        assert " onclick=" not in html and " onload=" not in html, url


def test_malformed_form_bodies_get_400_not_500(client, content):
    response = client.generic(
        "POST",
        "/quick-test/new/",
        b"\xff\xfe\x00garbage",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code < 500


def test_oversized_body_is_refused(client, content):
    response = client.post("/accounts/login/", {"login": "x" * (2 * 1024 * 1024), "password": "y"})
    assert response.status_code == 400

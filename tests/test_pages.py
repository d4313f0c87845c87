import re

import pytest


@pytest.mark.parametrize(
    "url",
    ["/", "/lessons/", "/quick-test/", "/exercises/", "/accounts/login/", "/accounts/signup/"],
)
def test_public_page_answers_anonymously(client, db, url):
    response = client.get(url)
    assert response.status_code == 200
    assert b"Saga School" in response.content


def test_pages_carry_strict_content_security_policy(client, db):
    policy = client.get("/")["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy


def test_every_response_names_its_correlation_id(client, db):
    assert len(client.get("/")["X-Request-ID"]) >= 8
    assert client.get("/", HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"


def test_hostile_correlation_id_is_replaced(client, db):
    assert client.get("/", HTTP_X_REQUEST_ID="<script>")["X-Request-ID"] != "<script>"


def test_unknown_url_is_404_not_500(client, db):
    assert client.get("/no/such/page/").status_code == 404


def test_layout_has_landmarks_and_skip_link(client, db):
    html = client.get("/").content.decode()
    for landmark in (
        "<header",
        '<nav class="site-nav" aria-label="Main"',
        '<main id="main"',
        "<footer",
        'href="#main"',
    ):
        assert landmark in html


def test_htmx_is_served_locally_with_csrf_header(client, db):
    html = client.get("/").content.decode()
    scripts = re.findall(r'<script[^>]* src="([^"]+)"', html)
    assert any(
        src.startswith("/static/django_htmx/htmx") and src.endswith(".js") for src in scripts
    ), scripts
    assert "https://" not in html.split("<body")[0]
    assert "X-CSRFToken" in html


def test_only_instructors_see_the_teach_link(client, alice_client, alice, db):
    assert 'href="/teach/"' not in alice_client.get("/").content.decode()
    from django.contrib.auth.models import Permission

    alice.user_permissions.add(Permission.objects.get(codename="change_exercise"))
    assert 'href="/teach/"' in alice_client.get("/").content.decode()

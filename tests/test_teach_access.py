"""Who gets into the instructor area: instructors yes; learners 403 on every view and method."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from teach import authoring
from teach import urls as teach_urls

KWARGS = {"slug": "idempotent-consumer", "number": 1, "key": "consumer-duplicate-sources"}


def teach_url_names():
    return [pattern.name for pattern in teach_urls.urlpatterns]


def _url(name):
    pattern = next(p for p in teach_urls.urlpatterns if p.name == name)
    return reverse(f"teach:{name}", kwargs={key: KWARGS[key] for key in pattern.pattern.converters})


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def instructor(bob):
    authoring.make_instructor(bob)
    return bob


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("name", teach_url_names())
def test_a_learner_is_refused_every_instructor_action(alice_client, name, method):
    response = getattr(alice_client, method)(_url(name))
    assert response.status_code == 403, (name, method)


@pytest.mark.parametrize("name", teach_url_names())
def test_an_anonymous_visitor_is_sent_to_log_in(client, db, name):
    response = client.get(_url(name))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("name", teach_url_names())
def test_every_view_is_behind_the_instructor_decorator(name):
    pattern = next(p for p in teach_urls.urlpatterns if p.name == name)
    assert getattr(pattern.callback, "instructor_only", False), name


def test_an_instructor_gets_in(client, instructor, content):
    client.force_login(instructor)
    html = client.get("/teach/").content.decode()
    assert "Instructor area" in html and "idempotent-consumer" in html


def test_a_superuser_gets_in(client, django_user_model, db):
    admin = django_user_model.objects.create_superuser(
        "root", "root@example.com", "pw-long-enough-1"
    )
    client.force_login(admin)
    assert client.get("/teach/").status_code == 200


def test_the_admin_keeps_working_for_staff(client, django_user_model, db):
    admin = django_user_model.objects.create_superuser(
        "root", "root@example.com", "pw-long-enough-1"
    )
    client.force_login(admin)
    assert client.get("/admin/exercises/exercise/").status_code == 200


def test_make_instructor_puts_the_user_in_the_group(alice, db):
    call_command("make_instructor", "ALICE@example.com", stdout=open("/dev/null", "w"))
    alice.refresh_from_db()
    assert alice.groups.filter(name="Instructors").exists()
    assert authoring.is_instructor(type(alice).objects.get(pk=alice.pk))


def test_make_instructor_remove_takes_the_role_away(alice, db):
    authoring.make_instructor(alice)
    call_command("make_instructor", alice.email, "--remove", stdout=open("/dev/null", "w"))
    assert not authoring.is_instructor(type(alice).objects.get(pk=alice.pk))


def test_make_instructor_refuses_an_unknown_email(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="0 users"):
        call_command("make_instructor", "nobody@example.com")


def test_the_instructors_group_has_the_teaching_permissions(db):
    group = authoring.instructors_group()
    codenames = set(group.permissions.values_list("codename", flat=True))
    assert {"change_exercise", "add_exerciseversion", "change_question"} <= codenames

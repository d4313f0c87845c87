"""Template values every page needs, computed more cheaply than Django's generic ones."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType

from courseapp.lib.sql import quote, rows
from teach.authoring import TEACH_PERMISSION


def teach_link(request) -> dict[str, Callable[[], bool]]:
    """`can_teach` for base.html's Teach link, evaluated only when a page shows the navigation.
    It answers what user.has_perm(TEACH_PERMISSION) answers with Django's ModelBackend (an
    active user's own or group permission; an active superuser has them all) in one query,
    where the generic `perms` reads every permission of the user and of their groups in two:
    on the dashboard those reads cost more than the rest of the page's queries together."""

    def can_teach() -> bool:
        user = request.user
        if not user.is_active:  # anonymous visitors too
            return False
        if user.is_superuser:
            return True
        app_label, codename = TEACH_PERMISSION.split(".")
        return bool(rows(_permission_sql(), [app_label, codename, user.pk, user.pk]))

    return {"can_teach": can_teach}


def _permission_sql() -> str:
    """The permission held by the user directly or through a group. Written out: built through
    the ORM (five joins), this one query cost about ten times what running it costs."""
    user_perms = Permission.user_set.through._meta  # the user <-> permission table
    group_perms = Group.permissions.through._meta
    user_groups = Group.user_set.through._meta
    return (
        f"SELECT 1 FROM {quote(Permission._meta.db_table)} p"
        f" JOIN {quote(ContentType._meta.db_table)} ct ON ct.{quote('id')} = p.{quote('content_type_id')}"
        f" WHERE ct.{quote('app_label')} = %s AND p.{quote('codename')} = %s AND ("
        f"EXISTS (SELECT 1 FROM {quote(user_perms.db_table)} up"
        f" WHERE up.{quote('permission_id')} = p.{quote('id')} AND up.{quote('user_id')} = %s)"
        f" OR EXISTS (SELECT 1 FROM {quote(group_perms.db_table)} gp"
        f" JOIN {quote(user_groups.db_table)} ug ON ug.{quote('group_id')} = gp.{quote('group_id')}"
        f" WHERE gp.{quote('permission_id')} = p.{quote('id')} AND ug.{quote('user_id')} = %s))"
    )

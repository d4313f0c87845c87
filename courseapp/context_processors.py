"""Template values every page needs, computed more cheaply than Django's generic ones."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import Permission
from django.db.models import Q

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
        return (
            Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            .filter(Q(user=user) | Q(group__user=user))
            .exists()
        )

    return {"can_teach": can_teach}

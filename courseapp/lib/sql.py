"""Written-out SQL for the hottest pages' small reads (dashboard, Quick Test, lesson progress):
building them through the ORM cost more than running them. Names are quoted for the database in
use; values always travel as parameters."""

from __future__ import annotations

from typing import Any

from django.db import connection


def quote(*names: str) -> str:
    """Column or table names, quoted and separated by commas."""
    return ", ".join(connection.ops.quote_name(name) for name in names)


def rows(sql: str, params: Any = ()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()

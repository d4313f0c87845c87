"""Database sessions whose read skips the ORM. Nearly every page reads the visitor's session, and
building that one-row query through the ORM cost several times more than running it (a lesson
page spent most of its time there). Writes, expiry and clearsessions stay Django's own."""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import connections, router
from django.utils import timezone


class SessionStore(DatabaseSessionStore):
    def load(self) -> dict[str, Any]:
        model = self.model
        connection = connections[router.db_for_read(model)]
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {quote('session_data')} FROM {quote(model._meta.db_table)}"
                f" WHERE {quote('session_key')} = %s AND {quote('expire_date')} > %s",
                [self.session_key, connection.ops.adapt_datetimefield_value(timezone.now())],
            )
            row = cursor.fetchone()
        if row is None:
            # As Django's own load(): an unknown or expired key is dropped, and a new one is
            # made if the session is written.
            self._session_key = None
            return {}
        return self.decode(row[0])

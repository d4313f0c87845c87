"""Each service's transactional store: tables of rows keyed by string, plus its outbox.

A commit is all-or-nothing and re-validated here (the guest's view was only a
snapshot): inserting an existing key or updating a missing row rejects the
whole transaction.
"""

from __future__ import annotations

from typing import Any


class Store:
    def __init__(self, service: str) -> None:
        self.service = service
        self.tables: dict[str, dict[str, dict[str, Any]]] = {}
        self.outbox: list[dict[str, Any]] = []
        self._seq = 0

    def table(self, name: str) -> dict[str, dict[str, Any]]:
        return self.tables.setdefault(name, {})

    def rows(self, name: str) -> dict[str, dict[str, Any]]:
        return self.tables.get(name, {})

    def get(self, name: str, key: str) -> dict[str, Any] | None:
        return self.tables.get(name, {}).get(key)

    def snapshot(self) -> dict[str, Any]:
        # Rows are replaced on write, never mutated, so a shallow copy is a stable snapshot.
        return {name: dict(rows) for name, rows in self.tables.items()}

    def commit(
        self, writes: list[Any], outbox: list[dict[str, Any]]
    ) -> tuple[str | None, list[dict[str, Any]]]:
        """Apply a transaction. Returns (problem, new outbox rows); on a problem nothing applies."""
        view: dict[tuple[str, str], dict[str, Any] | None] = {}
        tables = self.tables
        for op, table, key, row in writes:
            at = (table, key)
            if at in view:
                existing = view[at]
            else:  # == self.get(table, key)
                existing = tables.get(table, {}).get(key)
            if op == "insert":
                if existing is not None:
                    return f"duplicate key {table}/{key}", []
                view[at] = row
            elif op == "update":
                if existing is None:
                    return f"{table}/{key} does not exist", []
                view[at] = {**existing, **row}
            elif op == "put":
                view[at] = row
            else:
                if existing is None:
                    return f"{table}/{key} does not exist", []
                view[at] = None
        for (table, key), row in view.items():
            if row is None:
                tables.setdefault(table, {}).pop(key, None)  # == self.table(table).pop(key, None)
            else:
                tables.setdefault(table, {})[key] = row
        rows = []
        for item in outbox:
            self._seq += 1
            rows.append(
                {
                    "id": f"{self.service}-{self._seq}",
                    "type": item["type"],
                    "data": item["data"],
                    "correlation_id": item["correlation_id"],
                    "sent": False,
                    "publishes": 0,
                }
            )
        self.outbox.extend(rows)
        return None, rows

"""The API learner code is written against.

Your functions receive two things: the input (an ``Event`` for a message
handler, a ``Request`` for an RPC operation) and a ``Context`` for the
service the function runs in::

    def on_payment_captured(event, ctx):
        with ctx.db.transaction() as tx:
            if tx.get("processed", event.id):
                return                                   # a duplicate: already done
            tx.insert("processed", event.id, {})
            tx.update("orders", event.data["order_id"], status="CONFIRMED")
            tx.outbox("OrderConfirmed", {"order_id": event.data["order_id"]},
                      correlation_id=event.correlation_id)

Nothing you do touches the world directly: reads see a snapshot of your
service's store, and writes, messages and calls are recorded and applied by
the simulator afterwards (a crash at any point applies only what came
before it; a crash inside a transaction applies none of it).

Module globals are NOT durable: your module may be loaded fresh, and results
may be replayed from a cache, at any time. Keep all state in ``ctx.db``.
"""

from __future__ import annotations

import contextlib

# The guest imports nothing it does not need (typing included): annotations are strings here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from typing import Any

    _RowBase = dict[str, Any]
    Snapshot = dict[str, dict[str, dict[str, Any]]]  # {table: {key: row}}
else:
    _RowBase = dict

__all__ = [
    "Event",
    "Request",
    "Step",
    "Context",
    "Database",
    "Transaction",
    "SagaError",
    "DuplicateKey",
    "NotFound",
    "Timeout",
    "Conflict",
    "Rejected",
    "RemoteError",
    "RetryLater",
    "Poison",
]


class SagaError(Exception):
    """Base class of the errors the simulated world raises into your code."""


class DuplicateKey(SagaError):
    """``tx.insert`` of a key that already exists in the table."""


class NotFound(SagaError, KeyError):
    """``tx.update`` or ``tx.delete`` of a row that does not exist."""


class Timeout(SagaError):
    """An RPC got no answer in time. The other side may or may not have acted."""


class Conflict(SagaError):
    """The other side is already processing a request with the same idempotency key."""


class Rejected(SagaError):
    """The other side refused the request (e.g. an idempotency key reused with a different payload)."""


class RemoteError(SagaError):
    """The other side failed while handling the request."""


class RetryLater(Exception):
    """Raise from a message handler to have the message delivered again after ``after_ms``
    of virtual time (a durable timer; it does not count as a failure)."""

    def __init__(self, after_ms: int = 500) -> None:
        super().__init__(f"retry after {after_ms} ms")
        self.after_ms = int(after_ms)


class Poison(Exception):
    """Raise from a message handler when the message can never be processed: it goes
    straight to the dead-letter queue instead of being retried."""


class _Crash(BaseException):
    """Internal: the simulator says this service has already crashed; nothing more you do counts."""


# A field of the input the simulator is asked for when first read (see Database).
_ASK: Any = type("_Ask", (), {"__repr__": lambda self: "<asked when read>"})()


class Event:
    """A message delivered by the broker (at least once!)."""

    __slots__ = ("type", "data", "correlation_id", "_id", "_source", "_attempt", "_asker")

    def __init__(
        self,
        id: str,
        type: str,
        data: dict[str, Any],
        correlation_id: str | None = None,
        source: str | None = None,
        attempt: int = 1,
    ) -> None:
        self._id = id  # unique per message; duplicates repeat it
        self.type = type  # e.g. "OrderCreated"
        self.data = data  # a dict
        self.correlation_id = correlation_id  # the business operation this belongs to
        self._source = source  # the service that published it
        self._attempt = attempt  # 1 on first delivery, 2+ on redelivery
        self._asker: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    def _field(self, name: str) -> Any:
        value = getattr(self, "_" + name)
        if value is _ASK:
            assert self._asker is not None
            value = self._asker({"kind": "input", "field": "event." + name}).get("value")
            setattr(self, "_" + name, value)
        return value

    @property
    def id(self) -> str:
        """Unique per message; duplicates repeat it."""
        value: str = self._field("id")
        return value

    @id.setter
    def id(self, value: str) -> None:
        self._id = value

    @property
    def source(self) -> str | None:
        """The service that published it."""
        value: str | None = self._field("source")
        return value

    @source.setter
    def source(self, value: str | None) -> None:
        self._source = value

    @property
    def attempt(self) -> int:
        """1 on first delivery, 2+ on redelivery."""
        value: int = self._field("attempt")
        return value

    @attempt.setter
    def attempt(self, value: int) -> None:
        self._attempt = value

    def __repr__(self) -> str:
        return f"Event({self.type} {self.id} {self.data!r} corr={self.correlation_id})"


class Request:
    """An RPC request received by a service operation."""

    __slots__ = ("op", "data", "idempotency_key", "correlation_id", "caller")

    def __init__(
        self,
        op: str,
        data: dict[str, Any],
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
        caller: str | None = None,
    ) -> None:
        self.op = op
        self.data = data
        self.idempotency_key = idempotency_key
        self.correlation_id = correlation_id
        self.caller = caller

    def __repr__(self) -> str:
        return f"Request({self.op} {self.data!r} key={self.idempotency_key})"


class Step:
    """One step of a declarative saga: ``Step("reserve", "inventory.reserve", "inventory.release")``."""

    __slots__ = ("name", "action", "compensation")

    def __init__(self, name: str, action: str, compensation: str | None = None) -> None:
        self.name = name
        self.action = action
        self.compensation = compensation

    def to_json(self) -> dict[str, str | None]:
        return {"name": self.name, "action": self.action, "compensation": self.compensation}

    def __repr__(self) -> str:
        return f"Step({self.name!r}, {self.action!r}, {self.compensation!r})"


MAX_EFFECTS = 200  # what the simulator accepts from one invocation


class Row(_RowBase):
    """A row read from the store: a plain dict that is always truthy, even when empty,
    so ``if tx.get("processed", event.id):`` works for rows stored as ``{}``."""

    def __bool__(self) -> bool:
        return True


def _row(row: dict[str, Any]) -> Row:
    return Row(_copy(row))


def _copy(row: Any) -> Any:
    if isinstance(row, dict):
        return {k: _copy(v) for k, v in row.items()}
    if isinstance(row, list):
        return [_copy(v) for v in row]
    return row


def _check_key(table: object, key: object) -> None:
    if not isinstance(table, str) or not isinstance(key, str):
        raise TypeError("table names and keys must be strings")


class _Recorder:
    """Collects effects in order. Where a crash falls is decided by the simulator, which never
    tells this side: it cuts the effects at the crash point itself and refuses calls past it."""

    def __init__(self) -> None:
        self.effects: list[dict[str, Any]] = []
        self.sent = 0  # effects already sent to the simulator with a call

    def record(self, effect: dict[str, Any]) -> None:
        if len(self.effects) >= MAX_EFFECTS:
            raise SagaError(f"more than {MAX_EFFECTS} writes, messages and calls in one invocation")
        self.effects.append(effect)


class Transaction:
    """All-or-nothing: the writes and outbox rows apply together when the ``with``
    block ends normally, and not at all if it raises."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._writes: list[list[Any]] = []  # [op, table, key, row-or-fields]
        self._overlay: dict[tuple[str, str], dict[str, Any] | None] = {}  # None: deleted
        self._outbox: list[dict[str, Any]] = []

    def _read(self, table: str, key: str) -> dict[str, Any] | None:
        if (table, key) in self._overlay:
            return self._overlay[(table, key)]
        return self._db._read(table, key)

    def get(self, table: str, key: str, default: Any = None) -> Any:
        """The row as a dict (a copy), or ``default`` if there is none."""
        _check_key(table, key)
        row = self._read(table, key)
        return default if row is None else _row(row)

    def find(self, table: str, **where: Any) -> list[tuple[str, Row]]:
        """All rows of ``table`` whose fields equal ``where``: a list of (key, row), sorted by key."""
        keys = set(self._db._keys(table)) | {k for (t, k) in self._overlay if t == table}
        out = []
        for key in sorted(keys):
            row = self._read(table, key)
            if row is not None and all(row.get(f) == v for f, v in where.items()):
                out.append((key, _row(row)))
        return out

    def insert(self, table: str, key: str, row: Mapping[str, Any]) -> None:
        """Add a new row; raises ``DuplicateKey`` if the key exists."""
        _check_key(table, key)
        if self._read(table, key) is not None:
            raise DuplicateKey(f"{table}/{key} already exists")
        new = _copy(dict(row))
        self._overlay[(table, key)] = new
        self._writes.append(["insert", table, key, new])

    def update(self, table: str, key: str, **fields: Any) -> None:
        """Change some fields of an existing row; raises ``NotFound`` if there is none."""
        _check_key(table, key)
        row = self._read(table, key)
        if row is None:
            raise NotFound(f"{table}/{key} does not exist")
        new = _copy(row)
        new.update(_copy(fields))
        self._overlay[(table, key)] = new
        self._writes.append(["update", table, key, _copy(fields)])

    def put(self, table: str, key: str, row: Mapping[str, Any]) -> None:
        """Insert or replace a row."""
        _check_key(table, key)
        new = _copy(dict(row))
        self._overlay[(table, key)] = new
        self._writes.append(["put", table, key, new])

    def delete(self, table: str, key: str) -> None:
        _check_key(table, key)
        if self._read(table, key) is None:
            raise NotFound(f"{table}/{key} does not exist")
        self._overlay[(table, key)] = None
        self._writes.append(["delete", table, key, None])

    def outbox(
        self, type: str, data: Mapping[str, Any], *, correlation_id: str | None = None
    ) -> None:
        """Queue an event in this service's outbox table, in this transaction. The relay
        publishes it after the commit (at least once)."""
        if not isinstance(type, str):
            raise TypeError("event type must be a string")
        self._outbox.append(
            {"type": type, "data": _copy(dict(data)), "correlation_id": correlation_id}
        )


class Database:
    """Your service's store. Reads outside a transaction see the last committed state."""

    def __init__(
        self,
        snapshot: Snapshot | None,
        recorder: _Recorder,
        fetch: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        # Rows known so far: {table: {key: row}}; never mutated here but to add rows fetched.
        # With ``fetch`` (the simulator), rows are asked for one at a time, when first read: what
        # an invocation did is then a function of the rows it read, not of the whole store, so
        # the simulator can replay it for any store that holds the same rows.
        self._base: Snapshot = {} if snapshot is None else snapshot
        self._fetch = fetch
        self._absent: set[tuple[str, str]] = set()
        self._scanned: set[str] = set()
        self._overlay: dict[tuple[str, str], dict[str, Any] | None] = {}
        self._recorder = recorder

    def _ask(self, query: dict[str, Any]) -> dict[str, Any]:
        assert self._fetch is not None
        answer = self._fetch(query)
        if not isinstance(answer, dict) or answer.get("status") != "ok":
            message = answer.get("message") if isinstance(answer, dict) else None
            raise SagaError(f"the store could not be read: {message or 'refused'}")
        return answer

    def _read(self, table: str, key: str) -> dict[str, Any] | None:
        if (table, key) in self._overlay:
            return self._overlay[(table, key)]
        rows = self._base.get(table, {})
        if key in rows or self._fetch is None or table in self._scanned:
            return rows.get(key)
        if (table, key) in self._absent:
            return None
        row = self._ask({"kind": "read", "table": table, "key": key}).get("row")
        if row is None:
            self._absent.add((table, key))
        else:
            self._base.setdefault(table, {})[key] = row
        return row

    def _keys(self, table: str) -> set[str]:
        if not isinstance(table, str):
            raise TypeError("table names and keys must be strings")
        if self._fetch is not None and table not in self._scanned:
            rows = self._ask({"kind": "scan", "table": table}).get("rows")
            self._base[table] = dict(rows) if isinstance(rows, dict) else {}
            self._scanned.add(table)
        return set(self._base.get(table, {})) | {k for (t, k) in self._overlay if t == table}

    def get(self, table: str, key: str, default: Any = None) -> Any:
        _check_key(table, key)
        row = self._read(table, key)
        return default if row is None else _row(row)

    def find(self, table: str, **where: Any) -> list[tuple[str, Row]]:
        return Transaction(self).find(table, **where)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        tx = Transaction(self)
        yield tx
        if tx._writes or tx._outbox:
            self._recorder.record({"kind": "commit", "writes": tx._writes, "outbox": tx._outbox})
            self._overlay.update(tx._overlay)


class Context:
    """What a function can do besides reading its input."""

    def __init__(
        self,
        service: str,
        now: int | None,
        snapshot: Snapshot | None,
        recorder: _Recorder,
        callback: Callable[[dict[str, Any]], Any],  # the simulator's answer: a JSON object
        invocation: str,
    ) -> None:
        # ``now`` or ``snapshot`` None: asked of the simulator when first read (see Database).
        self.service = service  # the service this code runs in
        self._now = now
        self.db = Database(snapshot, recorder, callback if snapshot is None else None)
        self._recorder = recorder
        self._callback = callback
        self._invocation = invocation
        self._ids = 0

    @property
    def now(self) -> int:
        """Virtual time in ms (when this invocation started)."""
        if self._now is None:
            self._now = int(self.db._ask({"kind": "now"}).get("now") or 0)
        return self._now

    @now.setter
    def now(self, value: int) -> None:
        self._now = value

    def new_id(self, prefix: str = "id") -> str:
        """A fresh id, unique across the simulation (but different on every retry!)."""
        if self._invocation is _ASK:
            answer = self.db._ask({"kind": "input", "field": "invocation"})
            self._invocation = str(answer.get("value"))
        self._ids += 1
        return f"{prefix}-{self._invocation}-{self._ids}"

    def publish(
        self, type: str, data: Mapping[str, Any], *, correlation_id: str | None = None
    ) -> None:
        """Publish directly to the broker, right now, outside any transaction (no outbox)."""
        self._recorder.record(
            {
                "kind": "publish",
                "type": type,
                "data": _copy(dict(data)),
                "correlation_id": correlation_id,
            }
        )

    def call(
        self,
        service: str,
        op: str,
        data: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
    ) -> dict[str, Any]:
        """Call ``op`` on another service and return its answer (a dict).

        Raises ``Timeout`` when no answer comes back (the request or the reply was lost,
        or the service is down: it may have acted!), ``Conflict``, ``Rejected`` or
        ``RemoteError`` as the other side decides.
        """
        effect = {
            "kind": "call",
            "service": service,
            "op": op,
            "data": _copy(dict(data)),
            "idempotency_key": idempotency_key,
            "correlation_id": correlation_id,
        }
        # Effects recorded so far travel with the call, so the simulator applies them first
        # (a commit made before a call really happens before it).
        if len(self._recorder.effects) >= MAX_EFFECTS:
            raise SagaError(f"more than {MAX_EFFECTS} writes, messages and calls in one invocation")
        pending = self._recorder.effects[self._recorder.sent :]
        self._recorder.sent = len(self._recorder.effects) + 1
        answer = self._callback(
            {"kind": "call", "index": len(self._recorder.effects), "pending": pending, **effect}
        )
        status: str | None = answer.get("status")
        effect["status"] = status
        self._recorder.effects.append(effect)
        if status == "ok":
            result: dict[str, Any] = answer.get("result")
            return result
        if status == "crash":
            raise _Crash()
        message = f"{service}.{op}: {answer.get('message') or status}"
        errors: dict[str | None, type[SagaError]] = {
            "timeout": Timeout,
            "conflict": Conflict,
            "rejected": Rejected,
        }
        raise errors.get(status, RemoteError)(message)

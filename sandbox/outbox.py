"""The outbox relay: publishes committed outbox rows, then marks them sent.

It can crash between the two (fault ``relay_crash``); after a restart it
publishes the row again, so the relay gives at-least-once delivery, with the
same message id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the world owns the relay
    from .world import World

INTERVAL = 20
RESTART = 250


class Relay:
    def __init__(self, world: World) -> None:
        self.world = world
        self._scheduled: set[str] = set()

    def kick(self, service: str, delay: int = INTERVAL) -> None:
        if service not in self._scheduled:
            self._scheduled.add(service)
            self.world.sched.after(delay, self._tick, service)

    def _tick(self, service: str) -> None:
        w = self.world
        self._scheduled.discard(service)
        back = w.down_until(service)
        if back is not None:
            self.kick(service, back - w.sched.now)
            return
        for row in w.stores[service].outbox:
            if row["sent"]:
                continue
            row["publishes"] += 1
            msg = {
                "id": row["id"],
                "type": row["type"],
                "data": row["data"],
                "correlation_id": row["correlation_id"],
                "source": service,
            }
            w.broker.publish(service, msg)
            if w.plan.fires(
                "relay_crash", f"{service}:{row['id']}#{row['publishes']}", w.sched.now
            ):
                w.log(
                    "crash",
                    service,
                    f"outbox relay crashed after publishing {row['id']}, before marking it sent",
                    msg,
                )
                self.kick(service, RESTART)
                return
            row["sent"] = True

# Partition ownership: orders hash into a few partitions, a relay leases a whole partition, and a published row is deleted instead of marked.
import zlib

PARTITIONS = 4
LEASE_MS = 1500


def partition_of(order_id):
    return zlib.crc32(order_id.encode()) % PARTITIONS


def holds(ctx, part):
    """Take, keep or take over the lease on one partition; False if another relay has it."""
    history = ctx.db.find("partitions", part=part)
    gens = sorted(history, key=lambda kv: kv[1]["gen"])
    newest = gens[-1][1] if gens else None
    if newest and newest["until"] > ctx.now and newest["owner"] != ctx.service:
        return False
    mine_still = newest and newest["until"] > ctx.now
    gen = newest["gen"] if mine_still else (newest["gen"] + 1 if newest else 1)
    key = "p%d-g%d" % (part, gen)
    row = {"part": part, "gen": gen, "owner": ctx.service, "until": ctx.now + LEASE_MS}
    with ctx.db.transaction() as tx:
        if mine_still:
            tx.put("partitions", key, row)
        else:
            tx.insert("partitions", key, row)
    return True


def relay_tick(tick, ctx):
    todo = {}
    for key, row in ctx.db.find("outbox"):
        if not row.get("sent"):
            todo.setdefault(partition_of(row["order_id"]), []).append((key, row))
    for part in sorted(todo):
        if not holds(ctx, part):
            continue
        for key, row in todo[part]:
            ctx.publish(row["type"], row["data"], correlation_id=row["correlation_id"])
            with ctx.db.transaction() as tx:
                tx.delete("outbox", key)

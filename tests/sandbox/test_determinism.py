"""Same (scenario, code, seed) gives a byte-identical trace; shrinking only ever shortens."""

import json

import sandbox
from sandbox import scenarios
from sandbox.explore import Session, _plan, shrink
from sandbox.rng import schedule_seed
from sandbox.runner import InProcessRunner


def _dump(report):
    ce = report["counterexample"]
    return json.dumps([ce["seed"], ce["schedule"], ce["trace"]], sort_keys=True)


def test_same_seed_gives_byte_identical_trace_json():
    source = scenarios.get("order_saga_choreography").variants["no_dedup"][0]
    first = sandbox.grade("order_saga_choreography", source, seed=7, random_schedules=200)
    second = sandbox.grade("order_saga_choreography", source, seed=7, random_schedules=200)
    assert first["status"] == "failed"
    assert _dump(first) == _dump(second)


def test_replaying_a_random_schedule_gives_the_same_trace():
    sc = scenarios.get("travel_booking")
    session = Session(sc, InProcessRunner(sc.reference_source), {})
    seed = schedule_seed(3, 11)
    world, _ = session.run(_plan(sc, "random", seed), seed)
    assert world.plan.fired, "expected some faults in this schedule"
    again, _ = session.run(_plan(sc, "replay", seed, world.plan.fired), seed)
    assert again.trace.to_json() == world.trace.to_json()


def test_fresh_runner_replays_the_counterexample_identically():
    source = scenarios.get("two_phase_commit").variants["no_decision_log"][0]
    report = sandbox.grade("two_phase_commit", source, seed=1, random_schedules=100)
    ce = report["counterexample"]
    replayed = sandbox.replay("two_phase_commit", source, ce["seed"], ce["schedule"])
    assert json.dumps(replayed["counterexample"]["trace"], sort_keys=True) == json.dumps(
        ce["trace"], sort_keys=True
    )


def test_shrunk_schedule_is_no_longer_than_the_original_and_still_fails():
    sc = scenarios.get("order_saga_choreography")
    source = sc.variants["non_idempotent_compensation"][0]
    session = Session(sc, InProcessRunner(source), {})
    for i in range(500):
        seed = schedule_seed(0, i)
        world, broken = session.run(_plan(sc, "random", seed), seed)
        if broken and len(world.plan.fired) > 2:
            break
    else:
        raise AssertionError("no failing random schedule found")
    original = list(world.plan.fired)
    shrunk, shrunk_world, shrunk_broken = shrink(session, seed, original, set(broken))
    assert len(shrunk) <= len(original)
    assert len(shrunk) < len(original), "random schedules carry irrelevant faults"
    assert set(shrunk_broken) & set(broken)
    again, still = session.run(_plan(sc, "replay", seed, shrunk), seed)
    assert set(still) & set(broken)


def test_traces_do_not_depend_on_the_process_hash_seed():
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    code = (
        "import json, sandbox\n"
        "from sandbox import scenarios\n"
        "src = scenarios.get('order_outbox').variants['commit_then_publish'][0]\n"
        "r = sandbox.grade('order_outbox', src, seed=5, random_schedules=50)\n"
        "print(json.dumps(r['counterexample'], sort_keys=True))\n"
    )
    outputs = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(root)}
        outputs.add(
            subprocess.run(
                [sys.executable, "-c", code],
                env=env,
                capture_output=True,
                text=True,
                check=True,
                cwd=root,
            ).stdout
        )
    assert len(outputs) == 1

"""How much the jail costs: ``python -m sandbox.jailbench``.

1. start overhead: starting a JailRunner (bubblewrap + interpreter + loading
   a small submission + handshake, then close) vs a bare ``python -c pass``
   of the same base interpreter;
2. round trips per second through the jail vs the in-process runner, using
   the real guest dispatcher (``{"op": "pure", ...}``) and a callback-free
   request.

Prints progress to stderr and a summary to stdout.  Informational only:
nothing asserts on these numbers.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from .jail import JailRunner, _interpreter, jail_available
from .runner import InProcessRunner, Limits

SOURCE = "def add(a, b):\n    return a + b\n"
REQUEST = {"op": "pure", "fn": "add", "args": [20, 22]}


def _progress(label: str, i: int, n: int) -> None:
    if sys.stderr.isatty():
        print(f"\r  {label}: {i}/{n}", end="" if i < n else "\n", file=sys.stderr, flush=True)
    elif i == n or i % max(1, n // 4) == 0:
        print(f"  {label}: {i}/{n}", file=sys.stderr, flush=True)


def _timed(label: str, n: int, fn: Callable[[], object]) -> list[float]:
    times: list[float] = []
    for i in range(1, n + 1):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        _progress(label, i, n)
    return times


def bench(starts: int = 30, requests: int = 5000, allow_unjailed: bool = False) -> dict[str, Any]:
    exe, _ = _interpreter()
    ok, reason = jail_available()
    print(f"jail: {'available' if ok else 'UNAVAILABLE'} ({reason})", file=sys.stderr)
    if not ok and not allow_unjailed:
        raise SystemExit("no usable jail; pass --allow-unjailed to measure the fallback")

    bare = _timed(
        "bare python -c pass",
        starts,
        lambda: subprocess.run([exe, "-I", "-S", "-c", "pass"], check=True),
    )

    def start_jail() -> None:
        JailRunner(SOURCE, Limits(), allow_unjailed=allow_unjailed).close()

    jailed = _timed("jail start+close", starts, start_jail)

    with JailRunner(SOURCE, Limits(), allow_unjailed=allow_unjailed) as runner:
        mode = "jailed" if runner.jailed else "UNJAILED"
        assert runner.request(REQUEST)["value"] == 42
        t0 = time.perf_counter()
        for i in range(1, requests + 1):
            runner.request(REQUEST)
            if i % max(1, requests // 10) == 0:
                _progress(f"{mode} round trips", i, requests)
        jail_rt = requests / (time.perf_counter() - t0)

    inproc = InProcessRunner(SOURCE)
    assert inproc.request(REQUEST)["value"] == 42
    t0 = time.perf_counter()
    for i in range(1, requests + 1):
        inproc.request(REQUEST)
        if i % max(1, requests // 10) == 0:
            _progress("in-process round trips", i, requests)
    inproc_rt = requests / (time.perf_counter() - t0)

    return {
        "mode": mode,
        "bare_start_ms": statistics.median(bare) * 1000,
        "jail_start_ms": statistics.median(jailed) * 1000,
        "start_ratio": statistics.median(jailed) / statistics.median(bare),
        "jail_rt_per_s": jail_rt,
        "inproc_rt_per_s": inproc_rt,
        "rt_ratio": inproc_rt / jail_rt,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.jailbench", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--starts", type=int, default=30, help="process starts to time (default 30)"
    )
    parser.add_argument(
        "--requests", type=int, default=5000, help="round trips to time (default 5000)"
    )
    parser.add_argument(
        "--allow-unjailed",
        action="store_true",
        help="measure the unjailed development fallback if bwrap is unusable",
    )
    args = parser.parse_args(argv)
    r = bench(args.starts, args.requests, args.allow_unjailed)
    print(f"start:       bare python -c pass {r['bare_start_ms']:7.1f} ms (median)")
    print(
        f"             {r['mode']} runner      {r['jail_start_ms']:7.1f} ms (median)"
        f"  -> {r['start_ratio']:.1f}x"
    )
    print(f"round trips: in-process          {r['inproc_rt_per_s']:9.0f} /s")
    print(
        f"             {r['mode']} runner      {r['jail_rt_per_s']:9.0f} /s"
        f"  -> {r['rt_ratio']:.1f}x slower"
    )


if __name__ == "__main__":
    main()

"""Lesson playgrounds: deterministic simulations anyone can run.

Runs are cached by (key, toggles, seed) and the seed range is bounded, so
anonymous traffic can only ever cost a fixed, small set of simulations.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.core.cache import cache

from courseapp.lib.claims import DEFAULT_SEED, MAX_SEED
from courseapp.lib.timeline import timeline_svg
from sandbox.playgrounds import PLAYGROUNDS
from sandbox.playgrounds import run as simulate
from sandbox.report import PlaygroundReport

CACHE_SECONDS = 24 * 3600


def catalogue() -> dict:
    return PLAYGROUNDS


def toggles_from(query, key: str, preset: dict[str, bool] | None = None) -> dict[str, bool]:
    """Read the toggles of one playground from a form; unknown names are ignored. Before the
    reader runs anything, the playground's defaults with the lesson's preset on top."""
    spec = catalogue()[key]["toggles"]
    if "run" not in query:  # first view of the page
        return {t["name"]: bool((preset or {}).get(t["name"], t["default"])) for t in spec}
    return {t["name"]: query.get(t["name"]) in ("on", "1", "true") for t in spec}


def seed_from(query) -> int:
    try:
        return min(max(int(query.get("seed", DEFAULT_SEED)), 0), MAX_SEED)
    except (TypeError, ValueError):
        return DEFAULT_SEED


def run(key: str, toggles: dict[str, bool], seed: int) -> dict:
    fingerprint = hashlib.sha256(
        json.dumps([key, sorted(toggles.items()), seed]).encode()
    ).hexdigest()
    cache_key = f"playground:{fingerprint}"
    report = cache.get(cache_key)
    if report is None:
        report = _decorate(simulate(key, toggles, seed))
        cache.set(cache_key, report, CACHE_SECONDS)
    return report


def _decorate(run: PlaygroundReport) -> dict[str, Any]:
    """The report plus what the templates draw: load bars on a 0-10 scale and the timeline."""
    report: dict[str, Any] = dict(run)
    load = run.get("load") or []
    peak = max((count for _, count in load), default=0)
    report["load_bars"] = [round(10 * count / peak) if peak else 0 for _, count in load]
    example = run["counterexample"]
    steps = (example["trace"] if example else None) or run.get("trace") or []
    if steps:
        report["timeline_svg"] = timeline_svg(
            [dict(step) for step in steps], run["lanes"], violations=run["violations"]
        )
    return report

"""Optimizer: time to converge and success probability on the default plan vs a baseline.

Placeholder until ``optimize.glidepath.optimize_glide_path`` and ``optimize.baselines``
land; the section then reports "not available yet".
"""

from __future__ import annotations


def run(quick: bool, repeat: int) -> dict[str, object]:
    try:
        from optimize.glidepath import optimize_glide_path  # noqa: F401
    except ImportError:
        return {"skipped": "not available yet: optimize.glidepath.optimize_glide_path"}
    return {"skipped": "not available yet: benchmark code for the optimizer"}


def render(res: dict[str, object]) -> list[str]:
    if "skipped" in res:
        return [f"Skipped: {res['skipped']}."]
    return []

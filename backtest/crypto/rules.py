"""Sleeve rebalancing rules compared on the same scenarios, turnover and costs included.

Each rule is a strategy holding the same base and sleeve size; its reference is the base
*under the same whole-portfolio rule* without a sleeve, so a row's change in success is
the sleeve's doing under that rule, not the rebalancing's. Rules (:func:`standard_rules`):

* calendar monthly / quarterly / annual: the whole portfolio traded back on a calendar;
* band ``lo x - hi x``: the sleeve alone traded back to target when it leaves
  ``[lo, hi]`` times its target (checked every period), on top of the base's rule;
* none: buy and hold (contributions still buy the target mix);
* volatility-scaled: the sleeve's target shrinks as its trailing volatility rises
  (:class:`strategies.crypto.VolScaledSleeve`), on the base's rule;
* cap after drift: never topped up, trimmed back only above a cap
  (:func:`strategies.crypto.cap_after_drift`), the rest bought and held.

``success_per_turnover`` is the success probability divided by the mean one-way
turnover a year in percent of the balance (success points per 1 % a year of trading).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.crypto.surface import compare, outcome
from backtest.plan import Plan
from backtest.scenarios import Scenarios
from backtest.simulate import simulate
from strategies.base import RebalanceRule, SleeveBand, Strategy
from strategies.crypto import CryptoSleeve
from strategies.rebalance import buy_and_hold, calendar
from strategies.sleeve_rules import VolScaledSleeve, cap_after_drift


@dataclass(frozen=True)
class SleeveRule:
    """A named sleeve rule: the strategy with the sleeve and its no-sleeve reference."""

    name: str
    strategy: Strategy
    reference: Strategy
    description: str


def _with_rule(base: Strategy, rule: RebalanceRule) -> Strategy:
    try:
        return dataclasses.replace(base, rebalance=rule)  # type: ignore[type-var]
    except TypeError:
        return base


def standard_rules(
    base: Strategy,
    size: float,
    *,
    crypto_asset: str = "btc",
    bands: tuple[tuple[float, float], ...] = ((0.5, 1.5), (0.75, 1.25), (0.25, 2.0)),
    cap_multiple: float = 2.0,
    reference_vol: float = 0.60,
) -> list[SleeveRule]:
    """The rule set of the module docstring for a sleeve of ``size`` (decimal)."""
    rules: list[SleeveRule] = []
    for every in ("monthly", "quarterly", "annual"):
        rule = calendar(every)
        b = _with_rule(base, rule)
        rules.append(
            SleeveRule(
                f"calendar {every}",
                CryptoSleeve(b, size, crypto_asset=crypto_asset, band=None, cap=None),
                b,
                f"whole portfolio to target {every}",
            )
        )
    for lo, hi in bands:
        rules.append(
            SleeveRule(
                f"band {lo:g}x-{hi:g}x",
                CryptoSleeve(
                    base,
                    size,
                    crypto_asset=crypto_asset,
                    band=SleeveBand(crypto_asset, lo, hi),
                    cap=None,
                ),
                base,
                f"sleeve to target outside {lo:g}x-{hi:g}x, checked every period; base rule",
            )
        )
    hold = _with_rule(base, buy_and_hold())
    rules.append(
        SleeveRule(
            "none",
            CryptoSleeve(hold, size, crypto_asset=crypto_asset, band=None, cap=None),
            hold,
            "buy and hold: the sleeve and the rest drift",
        )
    )
    rules.append(
        SleeveRule(
            "volatility-scaled",
            VolScaledSleeve(base, size, reference_vol=reference_vol, crypto_asset=crypto_asset),
            base,
            f"target x {reference_vol:.0%} / trailing 2-year vol, at most 2x; base rule",
        )
    )
    cap = min(0.99, cap_multiple * size)
    rules.append(
        SleeveRule(
            "cap after drift",
            cap_after_drift(hold, size, cap, crypto_asset=crypto_asset),
            hold,
            f"never topped up, trimmed to {cap:.1%} when above it; rest bought and held",
        )
    )
    return rules


def compare_rules(
    scenarios: Scenarios, plan: Plan, rules: list[SleeveRule], n_batches: int = 20
) -> pd.DataFrame:
    """One row per rule: :func:`backtest.crypto.surface.compare` against its reference,
    plus ``reference_success``, ``reference_turnover`` and ``success_per_turnover``."""
    refs: dict[int, object] = {}
    rows = []
    for r in rules:
        key = id(r.reference)
        if key not in refs:
            refs[key] = outcome(simulate(scenarios, plan, r.reference))
        ref = refs[key]
        out = outcome(simulate(scenarios, plan, r.strategy))
        row: dict[str, object] = {"rule": r.name, "description": r.description}
        row.update(compare(ref, out, n_batches))  # type: ignore[arg-type]
        row["reference_success"] = float(np.mean(ref.success))  # type: ignore[attr-defined]
        row["reference_turnover"] = float(np.mean(ref.turnover))  # type: ignore[attr-defined]
        t = float(row["turnover"]) * 100.0  # type: ignore[arg-type]
        row["success_per_turnover"] = float(row["success"]) / t if t > 0 else float("inf")  # type: ignore[arg-type]
        rows.append(row)
    return pd.DataFrame(rows)

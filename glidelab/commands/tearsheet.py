"""``glidelab tearsheet``: a committee-ready tear sheet of several strategies."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

NAME = "tearsheet"
HELP = "write an HTML + PDF tear sheet (metrics, charts, simulations) of named strategies"
DESCRIPTION = """\
Backtest named strategies over the embedded history, simulate a lifecycle member on a
block bootstrap and on historical cohorts, and write a tear sheet folder: tearsheet.html
(self-contained, works offline), tearsheet.pdf (same content), metrics.csv and
metrics.json. Strategy names are presets (see `glidelab tearsheet --list`) or the short
aliases vanguard_tdf, fidelity_tdf, 60_40, voltarget_3, btc_2_5. Bitcoin sleeves hold
T-bills before Bitcoin data exists (2011 annual, 2010-08 monthly).

With --study, the tear sheet of a study file (the same file `glidelab run` reads: its
data, plans, strategies, sleeves and optimiser) is written instead, into
<output dir>/<study name>/tearsheet/ unless --out says otherwise.

examples:
  glidelab tearsheet --study my_study.toml
  glidelab tearsheet --strategies vanguard_tdf,60_40,voltarget_3,btc_2_5 \\
      --frequency annual --start 1928 --end 2025 --out results/tearsheet
"""

ALIASES = {
    "vanguard_tdf": "vanguard_target_retirement",
    "fidelity_tdf": "fidelity_freedom",
    "60_40": "fixed_60_40",
    "voltarget_3": "vol_target_3",
    "voltarget_6": "vol_target_6",
    "voltarget_10": "vol_target_10",
    "btc_0": "btc_sleeve_0",
    "btc_1": "btc_sleeve_1",
    "btc_2_5": "btc_sleeve_2_5",
    "btc_5": "btc_sleeve_5",
}
DEFAULT_STRATEGIES = (
    "vanguard_target_retirement",
    "fidelity_freedom",
    "110_minus_age",
    "fixed_60_40",
    "vol_target_3",
    "btc_sleeve_2_5",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strategies", help="comma-separated preset names or aliases")
    parser.add_argument(
        "--study", type=Path, help="a study file (as for glidelab run): its tear sheet"
    )
    parser.add_argument("--frequency", choices=("annual", "monthly"), help="default annual")
    parser.add_argument("--start", help="first year (or YYYY-MM) of the history")
    parser.add_argument("--end", help="last year (or YYYY-MM) of the history")
    parser.add_argument("--out", type=Path, help="output folder (default results/tearsheet)")
    parser.add_argument(
        "--scenarios", type=int, default=2000, help="bootstrap scenarios (default 2000)"
    )
    parser.add_argument("--seed", type=int, default=20261123, help="random seed")
    parser.add_argument(
        "--withdrawal-rates",
        default="0.03,0.035,0.04,0.045,0.05,0.06",
        help="initial withdrawal rates for the success heatmap, decimals",
    )
    parser.add_argument("--expense-ratio", type=float, default=0.0, help="decimal a year")
    parser.add_argument("--transaction-cost-bps", type=float, default=0.0, help="basis points")
    parser.add_argument(
        "--no-simulation", action="store_true", help="historical sections only (fast)"
    )
    parser.add_argument("--list", action="store_true", help="list the strategy presets and exit")


def _parse_rates(text: str) -> list[float]:
    from backtest.errors import StudyError

    try:
        rates = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise StudyError(f"--withdrawal-rates {text!r}: use decimals like 0.03,0.04") from None
    if any(not 0 < r < 0.5 for r in rates):
        raise StudyError(f"--withdrawal-rates {text!r}: each rate must be a decimal in (0, 0.5)")
    return rates


def _strategy(name: str) -> Any:
    from strategies.presets import preset

    key = ALIASES.get(name, name)
    options = {"before_data": "cash"} if key.startswith("btc_sleeve") else {}
    return preset(key, **options)  # an unknown name raises StrategyError, a GlidelabError


def run(args: argparse.Namespace) -> int:
    if args.list:
        from strategies.presets import list_presets

        inverse = {v: k for k, v in ALIASES.items()}
        for name, desc in list_presets():
            alias = f" (alias {inverse[name]})" if name in inverse else ""
            print(f"{name:28s} {desc}{alias}")
        return 0

    from backtest.plan import ConstantReal, Contributions, Plan
    from backtest.report.build import build_tearsheet_data
    from backtest.report.tearsheet import write_tearsheet

    if args.study is not None:
        return _from_study(args)
    names = (
        [s.strip() for s in args.strategies.split(",") if s.strip()]
        if args.strategies
        else list(DEFAULT_STRATEGIES)
    )
    frequency = args.frequency or "annual"
    start, end = args.start, args.end
    out = args.out or Path("results/tearsheet")
    strategies = [_strategy(n) for n in names]
    history = _history(strategies, frequency, start, end)
    ppy = 12 if frequency == "monthly" else 1

    kwargs: dict[str, Any] = {}
    assets = sorted({a for s in strategies for a in s.assets})
    if not args.no_simulation:
        from backtest.generators import block_bootstrap, historical_cohorts

        plan = Plan(
            start_age=25,
            retirement_age=65,
            end_age=95,
            contributions=Contributions(
                salary=50_000, rate=0.10, salary_growth_real=0.01, match_rate=0.5, match_cap=0.06
            ),
            withdrawal=ConstantReal(rate=0.04),
            expense_ratio=args.expense_ratio,
            transaction_cost_bps=args.transaction_cost_bps,
        )
        retiree = Plan(
            start_age=65,
            retirement_age=65,
            end_age=95,
            initial_balance=1_000_000,
            withdrawal=ConstantReal(rate=0.04),
            expense_ratio=args.expense_ratio,
            transaction_cost_bps=args.transaction_cost_bps,
        )
        fill = {"missing": "cash", "cash_asset": "tbills"} if "btc" in assets else {}
        scen_assets = [a for a in assets if a != "cpi"]
        if "tbills" not in scen_assets and fill:
            scen_assets.append("tbills")
        kwargs["plan"] = plan
        kwargs["scenarios"] = block_bootstrap(
            history, scen_assets, args.scenarios, 70 * ppy, rng=args.seed, **fill
        )
        if len(history) >= 30 * ppy:
            kwargs["cohorts"] = historical_cohorts(history, scen_assets, 30 * ppy, **fill)
            kwargs["cohort_plan"] = retiree
        kwargs["withdrawal_rates"] = _parse_rates(args.withdrawal_rates)
        kwargs["mixes"] = {
            f"{e}/{100 - e}": _strategy(f"fixed_{e}_{100 - e}") for e in (20, 40, 60, 80, 100)
        }
        kwargs["seed"] = args.seed
    if "btc" in assets:
        sizes = {
            0.0: "btc_sleeve_0",
            0.01: "btc_sleeve_1",
            0.025: "btc_sleeve_2_5",
            0.05: "btc_sleeve_5",
        }
        kwargs["sleeves"] = {k: _strategy(v) for k, v in sizes.items()}
        kwargs["sleeve_history"] = history.loc[history["btc"].notna()]
        if "scenarios" in kwargs:
            kwargs["sleeve_scenarios"] = kwargs["scenarios"]
    notes = [
        "Returns are decimal total returns from the embedded data (see "
        "backtest/data/embedded/PROVENANCE.md); real figures are deflated by CPI.",
        "Bitcoin sleeves hold T-bills before Bitcoin data begins.",
    ]
    data = build_tearsheet_data(
        strategies,
        history,
        title="Strategy tear sheet",
        subtitle=", ".join(s.name for s in strategies),
        expense_ratio=args.expense_ratio,
        transaction_cost_bps=args.transaction_cost_bps,
        notes=notes,
        **kwargs,
    )
    path = write_tearsheet(data, out)
    print(f"wrote {path}/tearsheet.html, tearsheet.pdf, metrics.csv, metrics.json")
    return 0


def _from_study(args: argparse.Namespace) -> int:
    """The tear sheet of a study file, built as ``glidelab run`` builds it."""
    import sys

    from backtest.errors import StudyError
    from glidelab.run import study_tearsheet
    from glidelab.study import load_study

    clash = [f"--{k}" for k in ("strategies", "frequency", "start", "end") if getattr(args, k)]
    if clash:
        raise StudyError(
            f"{', '.join(clash)} cannot be combined with --study: the study file sets them "
            "(edit its [data] and [strategies] tables)"
        )
    study = load_study(args.study)
    out = args.out or Path(study.output.dir) / study.name / "tearsheet"
    path = study_tearsheet(study, out, log=lambda m: print(m, file=sys.stderr, flush=True))
    print(f"wrote {path}/tearsheet.html, tearsheet.pdf, metrics.csv, metrics.json")
    return 0


def _history(strategies: list[Any], frequency: str, start: Any, end: Any) -> Any:
    """Nominal returns of every asset plus T-bills and CPI over the common period; Bitcoin
    is joined on the left (NaN before its data), so the sleeve can hold cash there."""
    from backtest.data import load_history

    assets = sorted({a for s in strategies for a in s.assets} | {"tbills"})
    core = [a for a in assets if a != "btc"]
    history = load_history([*core, "cpi"], frequency, start=start, end=end)
    if "btc" in assets:
        btc = load_history(["btc"], frequency)["btc"]
        history = history.join(btc, how="left")
    return history

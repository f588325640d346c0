"""``glidelab simulate``: one member, one strategy, many return scenarios (offline)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from backtest.errors import PlanError
from backtest.io import write_text_atomic
from glidelab.outputs import check_output_file, check_output_folder
from glidelab.progress import refuse_overwrite
from strategies.base import RebalanceRule

if TYPE_CHECKING:
    import pandas as pd

    from backtest.plan import Plan, SuccessDefinition, WithdrawalRule
    from backtest.scenarios import Scenarios
    from backtest.types import Frequency
    from strategies.base import Strategy

NAME = "simulate"
COMPILES = True  # runs the simulator: the first run compiles it (a one-line notice)
HELP = "simulate a member's plan under a strategy over return scenarios; success and wealth"
DESCRIPTION = """\
Simulate a member's account from the start age to the end age over many return
scenarios at once, and report the success rate and percentiles (5/25/50/75/95) of real
terminal wealth and of the real balance at retirement.

Units: amounts are real USD of the start date (today's dollars), a year; rates are
decimal (0.10 = 10 %) and annual. Scenarios come from the embedded history of the
strategy's assets plus CPI:
  historical  every rolling window of the history (cohorts; --n is ignored);
  bootstrap   stationary block bootstrap of whole rows (block length from
              arch.bootstrap.optimal_block_length unless --block-length);
  parametric  multivariate normal or Student-t in log returns, estimated from history.
Random scenarios are drawn in chunks of --chunk-size from independent child seeds of
--seed, so memory stays bounded and a run is reproducible from its settings.

Writes <out>/<name>.csv (the statistics) and <out>/<name>.json (the statistics and every
setting used), each atomically. An existing <out>/<name>.csv or .json is never replaced
silently: the command stops before computing unless --force (or use another --name or
--out). --quiet prints nothing but errors and warnings.

Assets whose data start late (Bitcoin: 2011 annual, 2010-08 monthly) limit the history to
their own span unless --before-data cash lets them earn T-bills before their data begin
(recorded in the JSON, never silent zeros). --assume states forward-looking assumptions
for parametric scenarios (annual log mean and volatility), for crypto in particular.

examples:
  glidelab simulate --strategy fixed_60_40 --scenarios bootstrap --n 20000 --seed 1
  glidelab simulate --strategy btc_sleeve_2_5 --before-data cash --scenarios parametric \\
      --assume btc=0.05,0.60 --n 20000
  glidelab simulate --mix us_stocks=0.6,tbonds_10y=0.4 --start-age 65 --retirement-age 65 \\
      --end-age 95 --balance 1000000 --withdrawal constant --withdrawal-rate 0.04
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``glidelab simulate``."""
    _member_arguments(parser.add_argument_group("member (real USD of today, decimal annual rates)"))
    _strategy_arguments(parser.add_argument_group("strategy"))
    _scenario_arguments(parser.add_argument_group("scenarios"))
    o = parser.add_argument_group("output")
    o.add_argument("--out", default="results/simulate", metavar="DIR")
    o.add_argument("--name", default="simulation", help="file stem (default simulation)")
    o.add_argument("--force", action="store_true", help="replace existing <out>/<name> files")
    o.add_argument("--quiet", action="store_true", help="print nothing but errors and warnings")


def _member_arguments(g: argparse._ArgumentGroup) -> None:
    """The member's ages, saving, fees, withdrawal rule and success definition."""
    g.add_argument("--start-age", type=float, default=30.0, help="age now (default 30)")
    g.add_argument("--retirement-age", type=float, default=65.0, help="default 65")
    g.add_argument("--end-age", type=float, default=95.0, help="default 95")
    g.add_argument("--balance", type=float, default=0.0, help="balance now, USD (default 0)")
    g.add_argument("--salary", type=float, default=60_000.0, help="salary now, USD a year")
    g.add_argument("--salary-growth", type=float, default=0.01, help="real growth a year")
    g.add_argument("--contribution-rate", type=float, default=0.10, help="share of salary")
    g.add_argument("--match-rate", type=float, default=0.5, help="employer match per dollar")
    g.add_argument("--match-cap", type=float, default=0.06, help="match up to this of salary")
    g.add_argument(
        "--limit", type=float, default=23_500.0, help="employee limit, USD a year (0 = none)"
    )
    g.add_argument("--catch-up", type=float, default=7_500.0, help="extra limit from age 50")
    g.add_argument("--contribution-timing", choices=["start", "end"], default="end")
    g.add_argument("--expense-ratio", type=float, default=0.001, help="fees, share a year")
    g.add_argument("--cost-bps", type=float, default=0.0, help="trading cost, bps of turnover")
    g.add_argument(
        "--withdrawal",
        choices=["constant", "fixed", "guardrails", "rmd", "none"],
        default="constant",
        help="rule in retirement: constant real (Bengen), fixed %% of balance, "
        "Guyton-Klinger guardrails, RMD table, none (default constant)",
    )
    g.add_argument(
        "--withdrawal-rate",
        type=float,
        default=0.04,
        help="constant: share of the balance at retirement; fixed/guardrails: rate (0.04)",
    )
    g.add_argument("--withdrawal-timing", choices=["start", "end", "split"], default="start")
    g.add_argument(
        "--success",
        choices=["money-lasts", "replacement", "db"],
        default="money-lasts",
        help="money lasts to the end age, or funded ratio at retirement >= 1 against a "
        "replacement rate of final salary or a DB formula",
    )
    g.add_argument("--replacement-rate", type=float, default=0.7)
    g.add_argument("--accrual-rate", type=float, default=0.015, help="DB: per year of service")
    g.add_argument(
        "--payout-years", type=float, default=None, help="funded ratio horizon (default to end)"
    )
    g.add_argument("--discount-rate", type=float, default=0.02, help="real, for funded ratio")


def _strategy_arguments(s: argparse._ArgumentGroup) -> None:
    """A preset or a fixed mix, and the mix's rebalancing."""
    who = s.add_mutually_exclusive_group()
    who.add_argument("--strategy", default=None, help="preset name (see strategies presets)")
    who.add_argument(
        "--mix", default=None, help="fixed mix, e.g. us_stocks=0.6,tbonds_10y=0.4 (default)"
    )
    s.add_argument(
        "--rebalance",
        default="annual",
        help="for --mix: annual, quarterly, monthly, none, or band:0.05",
    )


def _scenario_arguments(c: argparse._ArgumentGroup) -> None:
    """How the return scenarios are drawn: kind, size, seed, frequency, late assets."""
    c.add_argument(
        "--scenarios", choices=["historical", "bootstrap", "parametric"], default="bootstrap"
    )
    c.add_argument("--n", type=int, default=10_000, help="number of random scenarios")
    c.add_argument("--seed", type=int, default=0, help="seed of the random scenarios")
    c.add_argument("--frequency", choices=["annual", "monthly"], default="annual")
    c.add_argument("--block-length", type=float, default=None, help="bootstrap block length")
    c.add_argument("--distribution", choices=["normal", "student_t"], default="normal")
    c.add_argument("--dof", type=float, default=5.0, help="Student-t degrees of freedom")
    c.add_argument("--wrap", action="store_true", help="historical: wrap around the history")
    c.add_argument("--chunk-size", type=int, default=20_000, help="scenarios per chunk")
    c.add_argument(
        "--before-data",
        choices=["exclude", "cash"],
        default="exclude",
        help="late-starting assets (Bitcoin): 'exclude' keeps only the periods every asset "
        "covers (default); 'cash' lets them earn T-bills before their data begin",
    )
    c.add_argument(
        "--assume",
        action="append",
        default=[],
        metavar="ASSET=MEAN,VOL",
        help="parametric: an asset's annual LOG mean (median growth) and volatility, "
        "decimals, e.g. btc=0.05,0.60; the arithmetic mean is exp(mean + vol^2/2) - 1 "
        "(repeat for several)",
    )


def _parse_mix(text: str) -> tuple[tuple[str, ...], tuple[float, ...]]:
    assets, weights = [], []
    for part in text.split(","):
        name, sep, value = part.partition("=")
        try:
            w = float(value)
        except ValueError:
            w = float("nan")
        if not sep or not name.strip() or w != w:
            raise PlanError(f"--mix part {part!r}: write NAME=WEIGHT, e.g. us_stocks=0.6")
        assets.append(name.strip())
        weights.append(w)
    return tuple(assets), tuple(weights)


def _rebalance(text: str):
    months = {"annual": 12, "quarterly": 3, "monthly": 1}
    if text in months:
        return RebalanceRule(kind="calendar", every_months=months[text])
    if text == "none":
        return RebalanceRule(kind="none")
    if text.startswith("band:"):
        try:
            width = float(text[5:])
        except ValueError:
            raise PlanError(f"--rebalance {text!r}: write band:WIDTH, e.g. band:0.05") from None
        return RebalanceRule(kind="band", band=width)  # a bad width raises StrategyError
    raise PlanError(f"--rebalance {text!r}; use annual, quarterly, monthly, none or band:0.05")


def _strategy(args: argparse.Namespace):
    # Strategies raise StrategyError (a GlidelabError): the CLI prints it as it is.
    from strategies.presets import preset  # lazy: heavy, off the start-up path (scipy)
    from strategies.target_risk import FixedMix  # lazy: heavy, off the start-up path (scipy)

    if args.strategy:
        return preset(args.strategy)
    assets, weights = _parse_mix(args.mix or "us_stocks=0.6,tbonds_10y=0.4")
    return FixedMix(
        "mix " + ",".join(f"{a}={w:g}" for a, w in zip(assets, weights, strict=True)),
        assets,
        weights,
        rebalance=_rebalance(args.rebalance),
    )


def _plan(args: argparse.Namespace) -> Plan:
    from backtest.plan import (  # lazy: heavy, off the start-up path
        ConstantReal,
        Contributions,
        FixedPercent,
        FundedRatio,
        GuytonKlinger,
        MoneyLasts,
        Plan,
        RequiredMinimum,
    )

    contributions = None
    if args.retirement_age > args.start_age and args.salary > 0:
        contributions = Contributions(
            salary=args.salary,
            rate=args.contribution_rate,
            salary_growth_real=args.salary_growth,
            match_rate=args.match_rate,
            match_cap=args.match_cap,
            annual_limit=args.limit or None,
            catch_up=args.catch_up,
            timing=args.contribution_timing,
        )
    t = args.withdrawal_timing
    withdrawal_rules: dict[str, Callable[[], WithdrawalRule | None]] = {
        "constant": lambda: ConstantReal(rate=args.withdrawal_rate, timing=t),
        "fixed": lambda: FixedPercent(rate=args.withdrawal_rate, timing=t),
        "guardrails": lambda: GuytonKlinger(initial_rate=args.withdrawal_rate, timing=t),
        "rmd": lambda: RequiredMinimum(timing=t),
        "none": lambda: None,
    }
    withdrawal = withdrawal_rules[args.withdrawal]()
    common = dict(payout_years=args.payout_years, discount_rate_real=args.discount_rate)
    success_rules: dict[str, Callable[[], SuccessDefinition]] = {
        "money-lasts": lambda: MoneyLasts(),
        "replacement": lambda: FundedRatio(replacement_rate=args.replacement_rate, **common),
        "db": lambda: FundedRatio(accrual_rate=args.accrual_rate, **common),
    }
    success = success_rules[args.success]()
    return Plan(
        start_age=args.start_age,
        retirement_age=args.retirement_age,
        end_age=args.end_age,
        initial_balance=args.balance,
        contributions=contributions,
        withdrawal=withdrawal,
        expense_ratio=args.expense_ratio,
        transaction_cost_bps=args.cost_bps,
        success=success,
    )


def _history(
    assets: list[str], frequency: Frequency, before_data: str
) -> tuple[pd.DataFrame, dict[str, object]]:
    """History of ``assets`` + CPI; with ``before_data='cash'``, assets that start after
    T-bills are joined on and earn the T-bill return before their data begin."""
    from backtest.data import get_series, load_history  # lazy: heavy, off the start-up path
    from backtest.generators import fill_with_cash  # lazy: heavy, off the start-up path

    if before_data == "exclude":
        return load_history([*assets, "cpi"], frequency), {}
    cash = "tbills"
    cash_first = get_series(cash, frequency).first
    late = [a for a in assets if get_series(a, frequency).first > cash_first]
    core = list(dict.fromkeys([*(a for a in assets if a not in late), cash]))
    frame = load_history([*core, "cpi"], frequency)
    for a in late:
        frame = frame.join(load_history([a], frequency), how="left")
    frame, filled = fill_with_cash(frame, late, cash)
    return frame[[*assets, "cpi"]], filled


def _assumptions(
    items: list[str], assets: list[str], scenarios: str
) -> tuple[dict[str, float], dict[str, float]]:
    """Parse --assume ASSET=MEAN,VOL into annual log means and volatilities."""
    if items and scenarios != "parametric":
        raise PlanError("--assume applies to --scenarios parametric only")
    means: dict[str, float] = {}
    vols: dict[str, float] = {}
    for item in items:
        name, _, values = item.partition("=")
        parts = values.split(",")
        try:
            mean, vol = (float(x) for x in parts)
        except ValueError:
            raise PlanError(
                f"--assume {item!r}: expected ASSET=MEAN,VOL with decimals, e.g. btc=0.05,0.60"
            ) from None
        if name not in assets:
            raise PlanError(f"--assume {item!r}: {name!r} is not held; the strategy holds {assets}")
        if not vol > 0:
            raise PlanError(f"--assume {item!r}: the volatility must be > 0 (decimal, 0.6 = 60 %)")
        means[name], vols[name] = mean, vol
    return means, vols


def _short_history_warning(
    history: Any, assets: list[str], n_periods: int, args: argparse.Namespace
) -> str:
    """Words for a plan longer than the history its random scenarios resample ("" if not).

    With ``--before-data exclude`` an asset whose data start late (Bitcoin) cuts the
    history to its own span, so a lifetime of bootstrap scenarios is stitched from those
    few years alone, its early boom included.
    """
    if args.scenarios == "historical" or (args.scenarios == "parametric" and args.assume):
        return ""  # cohorts need the whole plan in history; --assume states the future
    if len(history) >= n_periods:
        return ""
    from backtest.data import get_series  # lazy: heavy, off the start-up path

    first = {a: get_series(a, args.frequency).first for a in assets}
    late = max(first, key=lambda a: str(first[a]))
    unit = "years" if args.frequency == "annual" else "months"
    verb = "resample" if args.scenarios == "bootstrap" else "are estimated from"
    return (
        f"the history of {', '.join(assets)} covers only {history.index[0]:%Y}-"
        f"{history.index[-1]:%Y} ({len(history)} {unit}, limited by {late}), shorter than "
        f"the plan's {n_periods} {unit}: the {args.scenarios} scenarios {verb} those years "
        f"only, as if they could recur for a lifetime. Use --before-data cash (the asset earns "
        f"T-bills before its data begin) or --scenarios parametric --assume {late}=MEAN,VOL"
    )


@dataclasses.dataclass(frozen=True)
class _Outcome:
    """What the simulation of every scenario gives the report."""

    terminal_wealth: np.ndarray  #: (n_scenarios,) real USD of the start date
    wealth_at_retirement: np.ndarray  #: (n_scenarios,) real USD of the start date
    success_rate: float  #: decimal share of scenarios that meet the plan's success rule
    n_scenarios: int
    description: str  #: how the scenarios were drawn, in words
    meta: dict[str, Any]  #: the scenario generator's settings (a chunked run: the first chunk's)


def run(args: argparse.Namespace) -> int:
    """Build plan, strategy and scenarios; simulate; print and write the statistics."""
    from backtest.types import periods_per_year  # lazy: heavy, off the start-up path

    out = _check_args(args)
    plan = _plan(args)
    strategy = _strategy(args)
    n_periods = plan.check_periods(periods_per_year(args.frequency))
    assets = [a for a in strategy.assets if a != "cpi"]
    history, filled = _history(assets, args.frequency, args.before_data)
    means, vols = _assumptions(args.assume, assets, args.scenarios)
    warning = _short_history_warning(history, assets, n_periods, args)
    if warning:
        print(f"glidelab simulate: warning: {warning}", file=sys.stderr)
    if args.scenarios == "historical":
        outcome = _simulate_historical(history, assets, n_periods, plan, strategy, args)
    else:
        outcome = _simulate_random(history, assets, n_periods, plan, strategy, args, means, vols)
    pcts, term_p, ret_p = _percentiles(outcome)
    table = _statistics_table(outcome, pcts, term_p, ret_p)
    record = {
        "command": "glidelab simulate",
        "settings": {k: v for k, v in vars(args).items() if not k.startswith("_")},
        "plan": json.loads(json.dumps(dataclasses.asdict(plan), default=str)),
        "strategy": {"name": strategy.name, "assets": list(strategy.assets)},
        "success_definition": plan.success.name,
        "scenarios": {"description": outcome.description, "meta": outcome.meta},
        "filled_with_cash": filled,
        "assumptions": {a: {"mean_log_annual": means[a], "vol_log_annual": vols[a]} for a in means},
        "warnings": [warning] if warning else [],
        "units": "real USD of the start date",
        "results": dict(zip(table.statistic, (float(v) for v in table.value), strict=True)),
    }
    csv_path = write_text_atomic(out / f"{args.name}.csv", table.to_csv(index=False))
    json_path = write_text_atomic(
        out / f"{args.name}.json", json.dumps(record, indent=2, default=str) + "\n"
    )
    if not args.quiet:
        _print_statistics(plan, strategy, outcome, pcts, term_p, ret_p)
        print(f"wrote {csv_path}")
        print(f"wrote {json_path}")
    return 0


def _check_args(args: argparse.Namespace) -> Path:
    """Refuse impossible sizes and salaries and unwritable outputs; the output folder."""
    if args.n < 1 or args.chunk_size < 1:
        raise PlanError("--n and --chunk-size must be >= 1")
    if not args.salary >= 0:
        raise PlanError(
            f"--salary {args.salary:g}: a salary is real USD a year, >= 0 "
            "(0 for a member who no longer saves)"
        )
    out = Path(args.out)
    fix = "give --out a folder path (it is created if missing)"
    check_output_folder(out, "--out", fix)
    files = [out / f"{args.name}{suffix}" for suffix in (".csv", ".json")]
    for path in files:
        check_output_file(path, "output file", fix + " or another --name")
    refuse_overwrite(files, args.force, "pass --force to replace, or another --name or --out")
    return out


def _simulate_historical(
    history: pd.DataFrame,
    assets: list[str],
    n_periods: int,
    plan: Plan,
    strategy: Strategy,
    args: argparse.Namespace,
) -> _Outcome:
    """Every rolling cohort of ``history`` (``--wrap``: around its end), simulated at once."""
    from backtest import generators  # lazy: heavy, off the start-up path
    from backtest.simulate import simulate  # lazy: heavy, off the start-up path

    sc = generators.historical_cohorts(history, assets, n_periods, wrap=args.wrap)
    res = simulate(sc, plan, strategy)
    return _Outcome(
        terminal_wealth=res.terminal_wealth,
        wealth_at_retirement=res.wealth_at_retirement,
        success_rate=res.success_rate,
        n_scenarios=sc.n_scenarios,
        description=sc.description,
        meta=sc.meta,
    )


def _simulate_random(
    history: pd.DataFrame,
    assets: list[str],
    n_periods: int,
    plan: Plan,
    strategy: Strategy,
    args: argparse.Namespace,
    means: dict[str, float],
    vols: dict[str, float],
) -> _Outcome:
    """``--n`` bootstrap or parametric scenarios, drawn and simulated in chunks of
    ``--chunk-size`` from child seeds of ``--seed``; ``means``/``vols`` are the
    ``--assume`` annual log moments."""
    from backtest import generators  # lazy: heavy, off the start-up path
    from backtest.simulate import simulate_chunked  # lazy: heavy, off the start-up path

    fn: Callable[..., Scenarios]  # a generator: block_bootstrap or parametric
    if args.scenarios == "bootstrap":
        fn, kw = generators.block_bootstrap, {"block_length": args.block_length}
    else:
        fn, kw = (
            generators.parametric,
            {
                "distribution": args.distribution,
                "dof": args.dof,
                "mean_log_annual": means or None,
                "vol_log_annual": vols or None,
            },
        )
    chunks = generators.iter_chunks(
        fn, args.n, args.chunk_size, history, assets, n_periods=n_periods, rng=args.seed, **kw
    )
    descriptions: list[str] = []
    metas: list[dict[str, Any]] = []

    def tap(it: Iterator[Scenarios]) -> Iterator[Scenarios]:
        for ch in it:
            descriptions.append(ch.description)
            metas.append(ch.meta)
            yield ch

    summary = simulate_chunked(tap(chunks), plan, strategy)
    return _Outcome(
        terminal_wealth=summary.terminal_wealth,
        wealth_at_retirement=summary.wealth_at_retirement,
        success_rate=summary.success_rate,
        n_scenarios=summary.n_scenarios,
        description=(
            f"{descriptions[0]} (first of {len(metas)} chunks of <= {args.chunk_size}, "
            f"{summary.n_scenarios} scenarios in all)"
        ),
        meta={k: v for k, v in metas[0].items() if k != "chunk"},
    )


def _percentiles(outcome: _Outcome) -> tuple[list[float], np.ndarray, np.ndarray]:
    """The reported percentiles (0-100) and, at each, real terminal wealth and real wealth
    at retirement (USD of the start date) across the scenarios."""
    from backtest.simulate import DEFAULT_PERCENTILES  # lazy: heavy, off the start-up path

    pcts = list(DEFAULT_PERCENTILES)
    return (
        pcts,
        np.percentile(outcome.terminal_wealth, pcts),
        np.percentile(outcome.wealth_at_retirement, pcts),
    )


def _statistics_table(
    outcome: _Outcome, pcts: list[float], term_p: np.ndarray, ret_p: np.ndarray
) -> pd.DataFrame:
    """The CSV's rows: success rate (decimal), scenario count, then the wealth percentiles."""
    import pandas as pd  # lazy: heavy, off the start-up path

    return pd.DataFrame(
        {
            "statistic": ["success_rate", "n_scenarios"]
            + [f"terminal_wealth_real_p{p:g}" for p in pcts]
            + [f"wealth_at_retirement_real_p{p:g}" for p in pcts],
            "value": [outcome.success_rate, float(outcome.n_scenarios), *term_p, *ret_p],
        }
    )


def _print_statistics(
    plan: Plan,
    strategy: Strategy,
    outcome: _Outcome,
    pcts: list[float],
    term_p: np.ndarray,
    ret_p: np.ndarray,
) -> None:
    """Print the plan, strategy, scenarios, success rate and the wealth percentiles."""
    from backtest.report.describe import describe_plan  # lazy: heavy, off the start-up path

    print(f"plan: {describe_plan(plan)}")
    print(f"strategy: {strategy.name}")
    print(f"scenarios: {outcome.description}")
    print(
        f"success ({plan.success.name}): {100 * outcome.success_rate:.1f}% of "
        f"{outcome.n_scenarios} scenarios"
    )
    print("percentile   terminal wealth (real)   wealth at retirement (real)")
    for p, a, b in zip(pcts, term_p, ret_p, strict=True):
        print(f"{p:>9g}%   {a:>22,.0f}   {b:>27,.0f}")

"""``glidelab tearsheet``: a committee-ready tear sheet of several strategies."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from backtest.errors import StudyError
from glidelab.progress import say, show_progress

if TYPE_CHECKING:  # the command's start-up path stays light: the study loads lazily
    from glidelab.study import Study

NAME = "tearsheet"
COMPILES = True  # runs the simulator: the first run compiles it (a one-line notice)
HELP = "write an HTML + PDF tear sheet (metrics, charts, simulations) of named strategies"
DESCRIPTION = """\
Write a tear sheet folder: tearsheet.html (self-contained, works offline; an index
links one section per plan), tearsheet.pdf (same content), metrics.csv and metrics.json
(one row per plan, strategy and basis). It is the tear sheet `glidelab run` writes. An
existing tear-sheet folder is replaced whole, atomically (it is this command's own
folder: use another --out to keep an earlier one). Progress bars are drawn only when
stderr is a terminal; --quiet prints nothing but errors (--list still lists).

With --study, the tear sheet of a study file (the same file `glidelab run` reads: its
data, plans, strategies, sleeves and optimiser), into <output dir>/<study
name>/tearsheet/ unless --out says otherwise.

Otherwise the named strategies become a small study on the embedded history: two plans,
a saver (25 to 65, 50,000 USD salary, saving 10 % with a 50 % match up to 6 %, then
withdrawing 4 % of the balance at retirement, raised with inflation, to 95) and a
retiree (65 to 95, 1,000,000 USD, the same 4 % rule), each simulated on a block bootstrap
and, when the history is long enough, on historical cohorts. Strategy names are presets
(see `glidelab tearsheet --list`) or the short aliases vanguard_tdf, fidelity_tdf, 60_40,
voltarget_3, btc_2_5; Bitcoin sleeves (btc_sleeve_*) sit on a 60/40 mix and hold T-bills
before Bitcoin's data begin (2011 annual, 2010-08 monthly).

examples:
  glidelab tearsheet --study my_study.toml
  glidelab tearsheet --study retiree
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
        "--study", help="a study file or shipped study name (as for glidelab run): its tear sheet"
    )
    parser.add_argument("--frequency", choices=("annual", "monthly"), help="default annual")
    parser.add_argument("--start", type=int, help="first year of the history")
    parser.add_argument("--end", type=int, help="last year of the history")
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
        "--no-simulation",
        action="store_true",
        help="historical sections only, for the saver plan (fast)",
    )
    parser.add_argument("--list", action="store_true", help="list the strategy presets and exit")
    parser.add_argument(
        "--quiet", action="store_true", help="print nothing but errors: no progress or log lines"
    )


def _parse_rates(text: str) -> tuple[float, ...]:
    try:
        rates = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise StudyError(f"--withdrawal-rates {text!r}: use decimals like 0.03,0.04") from None
    if not rates or any(not 0 < r < 0.5 for r in rates):
        raise StudyError(f"--withdrawal-rates {text!r}: each rate must be a decimal in (0, 0.5)")
    return tuple(rates)


#: Bitcoin-sleeve presets -> sleeve size (decimal) on the study's 60/40 base mix.
SLEEVES = {"btc_sleeve_0": 0.0, "btc_sleeve_1": 0.01, "btc_sleeve_2_5": 0.025, "btc_sleeve_5": 0.05}


def options_study(args: argparse.Namespace) -> Study:
    """The study that named strategies and options describe (see the command's help)."""
    from backtest.plan import (  # lazy: heavy, off the start-up path
        ConstantReal,
        Contributions,
        Plan,
    )
    from glidelab.study import (  # lazy: heavy, off the start-up path
        AnalysisConfig,
        DataConfig,
        OptimizeConfig,
        OutputConfig,
        PlanConfig,
        ScenarioConfig,
        StrategyConfig,
        Study,
    )
    from strategies.presets import preset  # lazy: heavy, off the start-up path (scipy)

    names = (
        [s.strip() for s in args.strategies.split(",") if s.strip()]
        if args.strategies
        else list(DEFAULT_STRATEGIES)
    )
    keys = [ALIASES.get(n, n) for n in names]
    for key in keys:
        preset(key)  # an unknown name is refused here, with the list of valid ones
    sleeves = tuple(SLEEVES[k] for k in keys if k in SLEEVES and SLEEVES[k] > 0)
    fees = {"expense_ratio": args.expense_ratio, "transaction_cost_bps": args.transaction_cost_bps}
    saver = Plan(
        start_age=25,
        retirement_age=65,
        end_age=95,
        contributions=Contributions(
            salary=50_000, rate=0.10, salary_growth_real=0.01, match_rate=0.5, match_cap=0.06
        ),
        withdrawal=ConstantReal(rate=0.04),
        **fees,
    )
    retiree = Plan(
        start_age=65,
        retirement_age=65,
        end_age=95,
        initial_balance=1_000_000,
        withdrawal=ConstantReal(rate=0.04),
        **fees,
    )
    plans: tuple[PlanConfig, ...] = (PlanConfig("saver", saver),)
    if not args.no_simulation:
        plans += (PlanConfig("retiree", retiree),)
    return Study(
        name="tearsheet",
        seed=args.seed,
        description=", ".join(names),
        data=DataConfig(frequency=args.frequency or "annual", start=args.start, end=args.end),
        scenarios=ScenarioConfig(historical=True, bootstrap_n=args.scenarios),
        plans=plans,
        strategies=StrategyConfig(
            presets=tuple(k for k in keys if k not in SLEEVES), crypto_sleeves=sleeves
        ),
        optimize=OptimizeConfig(enabled=False, plan="saver"),
        analysis=AnalysisConfig(withdrawal_rates=_parse_rates(args.withdrawal_rates)),
        output=OutputConfig(dir="results"),
        source=f"glidelab tearsheet --strategies {','.join(names)}",
    )


def run(args: argparse.Namespace) -> int:
    """List the presets, or write the tear sheet of a study file or of named strategies:
    the tear-sheet section of ``glidelab run`` (``glidelab.run.study_tearsheet``)."""
    if args.list:
        from strategies.presets import list_presets  # lazy: heavy, off the start-up path

        inverse = {v: k for k, v in ALIASES.items()}
        for name, desc in list_presets():
            alias = f" (alias {inverse[name]})" if name in inverse else ""
            print(f"{name:28s} {desc}{alias}")
        return 0
    path = _of_study_file(args) if args.study is not None else _of_named_strategies(args)
    say(args.quiet)(f"wrote {path}/tearsheet.html, tearsheet.pdf, metrics.csv, metrics.json")
    return 0


def _of_study_file(args: argparse.Namespace) -> Path:
    """The tear sheet of ``--study``, into its ``[output] dir`` unless ``--out``."""
    from glidelab.run import study_tearsheet  # lazy: heavy, off the start-up path
    from glidelab.study import load_study  # lazy: heavy, off the start-up path

    clash = [f"--{k}" for k in ("strategies", "frequency", "start", "end") if getattr(args, k)]
    if clash:
        raise StudyError(
            f"{', '.join(clash)} cannot be combined with --study: the study file sets them "
            "(edit its [data] and [strategies] tables)"
        )
    study = load_study(args.study).require_study("glidelab tearsheet --study")
    out = args.out or Path(study.output.dir) / study.name / "tearsheet"
    log = say(args.quiet, sys.stderr)
    return study_tearsheet(study, out, progress=show_progress(args.quiet), log=log)


def _of_named_strategies(args: argparse.Namespace) -> Path:
    """The tear sheet of the small study that the named strategies describe."""
    from backtest.types import periods_per_year  # lazy: heavy, off the start-up path
    from glidelab.run import study_history, study_tearsheet  # lazy: heavy, off the start-up path

    if args.scenarios < 1:
        raise StudyError(f"--scenarios {args.scenarios}: give a number of scenarios >= 1")
    study = options_study(args)
    # Cohorts need the whole plan inside the history: left out when it is shorter.
    n_years = len(study_history(study)) / periods_per_year(study.data.frequency)
    longest = max(p.plan.end_age - p.plan.start_age for p in study.plans)
    if n_years < longest:
        study = dataclasses.replace(
            study, scenarios=dataclasses.replace(study.scenarios, historical=False)
        )
    out = args.out or Path("results/tearsheet")
    return study_tearsheet(
        study,
        out,
        simulate_plans=not args.no_simulation,
        title="Strategy tear sheet",
        progress=show_progress(args.quiet),
        log=say(args.quiet, sys.stderr),
    )

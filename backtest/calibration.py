"""Member behaviour against published evidence: the leakage calibration table and fit.

:func:`leakage_calibration` compares what a vintage of members (:mod:`backtest.population`)
does before retirement (separations, cash-outs, hardship withdrawals) with published
figures (:func:`published_targets`, sources in
``backtest/data/embedded/PROVENANCE.md``, "Member behaviour calibration"), each with a
tolerance and why; :func:`fit_cash_out_curve` fits the cash-out curve of the
``"calibrated"`` leakage model to them (the defaults of ``PopulationSpec``);
:func:`leakage_sensitivity` scores one glide path under the three leakage models.

Amounts are real USD of 2025: a published dollar figure of an earlier year is moved to
2025 by the ratio of annual-average CPI-U (:func:`usd_2025`, the embedded monthly CPI).
Amounts at a separation or a hardship are read at the member's *projected* balance (the
balance its decisions read, :func:`backtest.leakage.projected_balances`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from backtest.data.embedded import load_history
from backtest.errors import DataError
from backtest.leakage import (
    BLS_MEDIAN_TENURE,
    BLS_MEDIAN_TENURE_ALL,
    RULE_OF_55_AGE,
    CashOutCurve,
    projected_balances,
)
from backtest.population import Members, PopulationSpec, draw_members
from backtest.population_eval import evaluate_population, pair_members_paths, run_accounts
from backtest.types import FloatArray

#: Ages from which Vanguard (2019) reports separating participants' decisions.
OLDER_AGE = 60.0
#: Age bands of the separation rates, [low, high) years, and their BLS median tenure.
SEPARATION_BANDS: tuple[tuple[str, float, float, float], ...] = (
    ("25-34", 25.0, 35.0, BLS_MEDIAN_TENURE[0][1]),
    ("55-64", 55.0, 65.0, BLS_MEDIAN_TENURE[1][1]),
    ("all ages", 0.0, 200.0, BLS_MEDIAN_TENURE_ALL),
)


@cache
def _cpi_annual() -> pd.Series:
    """Annual-average CPI-U index (any base) by year, from the embedded monthly CPI."""
    infl = load_history("cpi", "monthly")["cpi"]
    level = (1.0 + infl).cumprod()
    return level.groupby(pd.DatetimeIndex(level.index).year).mean()


def usd_2025(amount: float, year: int) -> float:
    """``amount`` USD of ``year`` in USD of 2025, by the ratio of annual-average CPI-U."""
    cpi = _cpi_annual()
    if year not in cpi.index:
        raise DataError(f"no embedded CPI for {year}; use a year in {cpi.index[1]}..2025")
    return float(amount * cpi.loc[2025] / cpi.loc[year])


@dataclass(frozen=True)
class Target:
    """A published figure: ``value`` (real 2025 USD or decimal), met when the model is
    within ``tolerance`` of it (relative: a share of ``value``; else absolute).
    ``secondary``: read in a report quoting the source (retirement-evidence.md), not in
    the source itself."""

    name: str
    value: float
    tolerance: float
    relative: bool
    source: str
    why: str
    secondary: bool = False

    @property
    def band(self) -> float:
        """The tolerance in the figure's units."""
        return self.tolerance * (abs(self.value) if self.relative else 1.0)

    def within(self, model: float) -> bool:
        return bool(abs(model - self.value) <= self.band)

    def z(self, model: float) -> float:
        """Distance to the figure in tolerances (the fit's residual)."""
        return (model - self.value) / self.band


#: Lu, Mitchell, Utkus and Young (2017), "Borrowing from the future? 401(k) plan loans and
#: loan defaults", National Tax Journal 70(1), 77-110 (abstract; checked).
LU_2017 = "Lu, Mitchell, Utkus and Young, National Tax Journal 70(1) (2017), abstract"


def loan_targets() -> tuple[Target, ...]:
    """The published plan-loan figures (rows of the table with ``plan_loans`` on)."""
    return (
        Target(
            "share of working members with a loan outstanding",
            0.20,
            0.05,
            False,
            f"{LU_2017}: 20 % borrow at any given time",
            "rounded; other record keepers: 18 % at year-end 2016 (EBRI Issue Brief, "
            "September 2023), about 22 % (Beshears et al. 2011)",
        ),
        Target(
            "share of job ends with a loan outstanding that default",
            0.86,
            0.03,
            False,
            f"{LU_2017}: 86 % of workers who change jobs with a loan default",
            "the model's rate is this input plus sampling (about 0.01 on 20,000 members)",
        ),
    )


def published_targets(loans: bool = False) -> tuple[Target, ...]:
    """The published leakage figures the calibrated model is set against (see PROVENANCE);
    with ``loans`` the plan-loan rows too (:func:`loan_targets`)."""
    ebri = "EBRI Notes, January 2009, 'Lump-sum distributions at job change'"
    vg = "Vanguard, 'Retirement distribution decisions among DC participants', 2019"
    has = "Vanguard, How America Saves, as reported in news coverage"
    rows = [
        Target(
            "median cash-out at separation, USD",
            usd_2025(10_000.0, 2006),
            0.4,
            True,
            f"{ebri}: median lump sum about 10,000 USD of 2006",
            "a 2006 survey median of lump sums at job change, before auto-enrolment",
        ),
        Target(
            "share of dollars preserved at separation, 60+",
            0.90,
            0.05,
            False,
            f"{vg}: about 9 in 10 dollars preserved",
            "'about 9 in 10' is rounded",
        ),
        Target(
            "share of separations cashed out, 60+",
            0.30,
            0.10,
            False,
            f"{vg}: about 7 in 10 preserve",
            "'about 7 in 10' is rounded; partial cash-outs",
        ),
        Target(
            "share of separations cashed out, all ages",
            0.414,
            0.15,
            False,
            "Wang, Zhai and Lynch, Marketing Science (2022), as reported by HBR/SHRM: "
            "41.4 % of separating employees cash out",
            "one employer's records; partial cash-outs count there",
            secondary=True,
        ),
        Target(
            "mean cash-out at separation, 60+, USD",
            usd_2025(21_000.0, 2019),
            0.4,
            True,
            f"{vg}: those who cash out hold about 21,000 USD of 2019",
            "one record keeper's participants; rounded",
        ),
        Target(
            "median hardship withdrawal, USD",
            1_900.0,
            0.15,
            True,
            f"{has}: median about 1,900 USD",
            "rounded, nominal of a recent year (CPI moves it < 5 %)",
            secondary=True,
        ),
        Target(
            "hardship withdrawals a working year",
            0.02,
            0.005,
            False,
            f"{has}: about 2 % of participants a year before 2020",
            "rounded",
            secondary=True,
        ),
        Target(
            "leakage share of wealth at retirement",
            0.25,
            0.10,
            False,
            "Munnell and Webb, CRR Issue Brief 15-2 (2015): about 25 % lower",
            "their figure includes IRA withdrawals and loan defaults, not modelled here",
        ),
    ]
    for label, _, _, m in SEPARATION_BANDS:
        rows.append(
            Target(
                f"separation rate a year, {label}",
                1.0 - 2.0 ** (-1.0 / m),
                0.25,
                True,
                f"BLS, Employee Tenure in 2024: median tenure {m} years",
                "constant-hazard reading of median tenure (1 - 2^(-1/m)); the model's rate "
                "counts returns from career breaks and ages only up to retirement",
                secondary=label != "all ages",
            )
        )
    return tuple(rows) + (loan_targets() if loans else ())


@dataclass(frozen=True)
class LeakageEvents:
    """Leakage in real USD at the members' projected balances, (n, T) each.

    ``plan`` the plan balance at the start of each year (held with the current employer),
    ``at_separation`` the balance at stake at a job change (the plan balance; the whole
    balance for ``"heavy"`` leakage; 0 otherwise), ``cash_out`` the amount cashed out,
    ``hardship`` the hardship amount.
    """

    plan: FloatArray
    at_separation: FloatArray
    cash_out: FloatArray
    hardship: FloatArray


def leakage_events(members: Members) -> LeakageEvents:
    """Each member's leakage in real USD, read at the projected balances (at
    ``spec.leakage_projection_return``, :func:`backtest.leakage.projected_balances`), the
    balances the ``"calibrated"`` decisions read."""
    share = members.leakage_share
    plan, rolled = projected_balances(
        members.contributions, members.separation, share, members.spec.leakage_projection_return
    )
    taken = share * (plan + rolled)[:, :-1]
    # "heavy" cashes out the whole balance: all of it is at stake at a separation.
    stake = plan + rolled if members.spec.leakage == "heavy" else plan
    return LeakageEvents(
        plan=plan[:, :-1],
        at_separation=np.where(members.separation, stake[:, :-1], 0.0),
        cash_out=np.where(members.cashed_out, taken, 0.0),
        hardship=np.where(members.hardship, taken, 0.0),
    )


def aggregate_leakage(
    members: Members, growth: FloatArray | None = None, expense_ratio: float = 0.0
) -> float:
    """Share of the vintage's wealth at retirement lost to leakage, decimal:
    ``1 - sum W_ret / sum W_ret(no leakage)`` on the same member-paths and contributions,
    members alive at retirement; ``growth`` (P, T) real gross returns of the glide path
    paired member ``i`` with path ``i mod P``, or None: the projection's constant return."""
    keep = members.take(np.flatnonzero(members.alive_at_retirement))
    n_t = keep.spec.n_periods
    if growth is None:
        growth = np.full((1, n_t), 1.0 + keep.spec.leakage_projection_return)
    member, path = pair_members_paths(keep.n_members, growth.shape[0], "paired")
    zero = np.zeros((member.size, n_t))
    rows, t_ret = np.arange(member.size), keep.retirement_period[member]
    wealth = []
    for leak in (keep.leakage_share[member], zero):
        acc = run_accounts(growth[path], keep.contributions[member], zero, leak, expense_ratio)
        wealth.append(acc.wealth[rows, t_ret].sum())
    return float(1.0 - wealth[0] / wealth[1]) if wealth[1] > 0 else 0.0


def leakage_statistics(
    members: Members, growth: FloatArray | None = None, expense_ratio: float = 0.0
) -> dict[str, float]:
    """The model's value of each :func:`published_targets` row (same names), plus the
    share of cash-outs at 55+ and the mean count of cash-outs a member."""
    ev = leakage_events(members)
    ages = members.spec.ages[None, :]
    sep = members.separation & (ev.plan > 0)
    old = ages >= OLDER_AGE
    cash = ev.cash_out[members.cashed_out]
    working = members.contributions > 0
    out = {
        "median cash-out at separation, USD": _median(cash),
        "share of dollars preserved at separation, 60+": 1.0
        - _ratio(ev.cash_out[old & sep].sum(), ev.at_separation[old & sep].sum()),
        "share of separations cashed out, 60+": _ratio(
            (members.cashed_out & old).sum(), (sep & old).sum()
        ),
        "share of separations cashed out, all ages": _ratio(members.cashed_out.sum(), sep.sum()),
        "mean cash-out at separation, 60+, USD": _mean(ev.cash_out[members.cashed_out & old]),
        "median hardship withdrawal, USD": _median(ev.hardship[members.hardship]),
        "hardship withdrawals a working year": _ratio(members.hardship.sum(), working.sum()),
        "leakage share of wealth at retirement": aggregate_leakage(members, growth, expense_ratio),
    }
    for label, lo, hi, _ in SEPARATION_BANDS:
        band = working & (ages >= lo) & (ages < hi)
        out[f"separation rate a year, {label}"] = _ratio(
            (members.separation & band).sum(), band.sum()
        )
    out["share of cash-outs at 55+"] = _ratio(
        (members.cashed_out & (ages >= RULE_OF_55_AGE)).sum(), members.cashed_out.sum()
    )
    out["cash-outs a member"] = float(members.cashed_out.sum(axis=1).mean())
    if members.loan is not None and members.loan_due is not None:
        defaults = members.loan_default
        out["share of working members with a loan outstanding"] = _ratio(
            (members.loan & working).sum(), working.sum()
        )
        out["share of job ends with a loan outstanding that default"] = _ratio(
            0.0 if defaults is None else defaults.sum(), members.loan_due.sum()
        )
    return out


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b > 0 else float("nan")


def _median(x: FloatArray) -> float:
    return float(np.median(x)) if x.size else float("nan")


def _mean(x: FloatArray) -> float:
    return float(np.mean(x)) if x.size else float("nan")


def leakage_calibration(
    members: Members, growth: FloatArray | None = None, expense_ratio: float = 0.0
) -> pd.DataFrame:
    """The calibration table: one row a published figure, columns ``model``,
    ``published``, ``tolerance`` (as a number in the figure's units), ``source``, ``why``
    (of the tolerance), ``secondary`` (read in a report quoting the source), ``role``
    (``fitted`` by :func:`fit_cash_out_curve`, an ``input`` the model is set from, or a
    ``check``) and ``within`` (bool). Amounts real 2025 USD, rates decimal.

    ``growth`` (P, T) and ``expense_ratio`` set the accounts of the aggregate leakage row
    (:func:`aggregate_leakage`); None: the projection's constant real return.
    """
    stats = leakage_statistics(members, growth, expense_ratio)
    rows = []
    for t in published_targets(members.loan is not None):
        model = stats[t.name]
        role = "fitted" if t.name in CURVE_TARGETS else ("input" if t.name in INPUTS else "check")
        rows.append(
            (t.name, model, t.value, t.band, t.source, t.why, t.secondary, role, t.within(model))
        )
    cols = ["model", "published", "tolerance", "source", "why", "secondary", "role", "within"]
    return pd.DataFrame(rows, columns=["figure", *cols]).set_index("figure")


#: The rows the cash-out curve moves, fitted by :func:`fit_cash_out_curve`.
CURVE_TARGETS: tuple[str, ...] = (
    "median cash-out at separation, USD",
    "share of dollars preserved at separation, 60+",
    "share of separations cashed out, 60+",
    "mean cash-out at separation, 60+, USD",
    "leakage share of wealth at retirement",
)


#: The rows the model is set from directly (hardship amounts and rate, separation hazards,
#: and with plan loans the loan rate and the default rate).
INPUTS: tuple[str, ...] = (
    "median hardship withdrawal, USD",
    "hardship withdrawals a working year",
    "share of working members with a loan outstanding",
    "share of job ends with a loan outstanding that default",
    *(f"separation rate a year, {label}" for label, *_ in SEPARATION_BANDS[:2]),
)

#: Bounds of the fitted (intercept, balance slope, age slope): the slopes >= 0, so the
#: cash-out probability falls with the balance and with age, as the evidence describes.
CURVE_BOUNDS: tuple[tuple[float, float], ...] = ((-20.0, 20.0), (0.0, 10.0), (0.0, 10.0))


def fit_cash_out_curve(
    spec: PopulationSpec,
    n_members: int = 20_000,
    seed: int = 2060,
    max_evaluations: int = 300,
    figures: tuple[str, ...] = CURVE_TARGETS,
) -> tuple[CashOutCurve, float]:
    """Fit the cash-out curve's three parameters to ``figures`` (names of
    :func:`published_targets`, by default :data:`CURVE_TARGETS`): minimise the
    largest distance to a figure, in tolerances (:meth:`Target.z`; the figures pull
    apart, so the curve that keeps the farthest one closest), by Nelder-Mead from
    ``spec``'s curve after a first Nelder-Mead pass on the sum of squared distances (to
    reach the basin), half of ``max_evaluations`` each, on one draw of ``n_members``
    (same ``seed`` every evaluation: common random numbers). Returns the curve and the loss (below 1: every figure within
    tolerance, with a margin of ``1 - loss`` tolerances). Slopes are kept
    >= 0 (:data:`CURVE_BOUNDS`); the aggregate leakage row reads the projection's
    constant real return (``spec.leakage_projection_return``)."""
    targets = {t.name: t for t in published_targets() if t.name in figures}
    base = dataclasses.replace(spec, leakage="calibrated")

    def distances(x: FloatArray) -> FloatArray:
        s = dataclasses.replace(
            base,
            cash_out_intercept=float(x[0]),
            cash_out_balance_slope=float(x[1]),
            cash_out_age_slope=float(x[2]),
        )
        stats = leakage_statistics(draw_members(s, n_members, seed))
        z = np.abs([t.z(stats[k]) for k, t in targets.items()])
        return z if np.isfinite(z).all() else np.full(z.size, 1e3)

    x = np.array([spec.cash_out_intercept, spec.cash_out_balance_slope, spec.cash_out_age_slope])
    for criterion in (
        lambda x: float(np.sum(distances(x) ** 2)),
        lambda x: float(distances(x).max()),
    ):
        res = minimize(
            criterion,
            x,
            method="Nelder-Mead",
            bounds=CURVE_BOUNDS,
            options={
                "maxfev": max(1, max_evaluations // 2),
                "xatol": 1e-3,
                "fatol": 1e-3,
                "initial_simplex": x + np.vstack([np.zeros(3), np.diag([1.0, 0.5, 0.05])]),
            },
        )
        x = res.x
    return CashOutCurve(*(round(float(v), 4) for v in x)), float(res.fun)


def leakage_sensitivity(
    spec: PopulationSpec,
    n_members: int,
    seed: int,
    growth: FloatArray,
    expense_ratio: float = 0.0,
    pairing: str = "paired",
) -> pd.DataFrame:
    """One glide path under the three leakage models, on the same members' draws (each
    model reads the same seed) and market paths: one row a model (``"none"``,
    ``"calibrated"``, ``"heavy"``); columns the median cash-out (real 2025 USD, at the
    projected balance), the share of cash-outs at 55+, the aggregate leakage share of
    wealth at retirement on ``growth`` (decimal), and the glide path's survival-weighted
    success and CVaR95 of unpaid years (:func:`backtest.population_eval.evaluate_population`).

    ``growth`` (P, T): real gross returns of the glide path per market path and year
    (:func:`backtest.population_eval.portfolio_growth`).
    """
    rows = {}
    for model in ("none", "calibrated", "heavy"):
        m = draw_members(dataclasses.replace(spec, leakage=model), n_members, seed)
        stats = leakage_statistics(m, growth, expense_ratio)
        out = evaluate_population(m, growth, expense_ratio=expense_ratio, pairing=pairing)
        rows[model] = {
            "median cash-out, USD": stats["median cash-out at separation, USD"],
            "share of cash-outs at 55+": stats["share of cash-outs at 55+"],
            "aggregate leakage": stats["leakage share of wealth at retirement"],
            "success (survival-weighted)": out.mean_success,
            "CVaR95 unpaid years": out.cvar_unpaid_years(0.95),
        }
    return pd.DataFrame.from_dict(rows, orient="index")

"""``[[plans]]``: the members a study simulates, read into the engine's ``Plan``.

Each ``[[plans]]`` table is one member: name, ages, balance, salary and contributions,
fees, the optional ``birth_year`` (sets the first RMD age, 75 for those born 1960 or
later), a ``[plans.withdrawal]`` rule, a ``[plans.success]`` definition, and optionally the
``strategy`` she holds today and a ``[plans.pension_target]`` (defined-benefit style)
whose funded ratio at retirement is reported beside success. Amounts are real USD of the
start date per year; rates are decimals (0.04 = 4 %). Defaults are those of
``backtest.plan``'s dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from backtest.errors import StudyError
from backtest.plan import (
    ConstantReal,
    Contributions,
    FixedPercent,
    FundedRatio,
    GuytonKlinger,
    MoneyLasts,
    Plan,
    RequiredMinimum,
    WithdrawalRule,
    WithdrawalTiming,
)
from glidelab.studyfile.tables import Table, defaults

if TYPE_CHECKING:
    from backtest.mortality import Reading, Sex

__all__ = [
    "PLAN_KEYS",
    "SUCCESS_RULES",
    "WITHDRAWAL_RULES",
    "Mortality",
    "PlanConfig",
    "read_plans",
]

WITHDRAWAL_RULES = ("constant_real", "fixed_percent", "guyton_klinger", "rmd", "none")
SUCCESS_RULES = ("money_lasts", "funded_ratio")

_FUNDED_RATIO_KEYS = {
    "replacement_rate": None,
    "accrual_rate": None,
    "final_average_years": None,
    "payout_years": None,
    "discount_rate_real": None,
    "threshold": None,
}
#: The keys of one ``[[plans]]`` table (its part of the study schema).
PLAN_KEYS: dict[str, Any] = {
    **dict.fromkeys(
        (
            "name",
            "start_age",
            "retirement_age",
            "end_age",
            "initial_balance",
            "salary",
            "salary_growth_real",
            "contribution_rate",
            "match_rate",
            "match_cap",
            "annual_limit",
            "catch_up",
            "contribution_timing",
            "expense_ratio",
            "transaction_cost_bps",
            "rmd_floor",
            "birth_year",
            "strategy",
        )
    ),
    "withdrawal": dict.fromkeys(
        (
            "rule",
            "timing",
            "amount",
            "rate",
            "indexed",
            "upper_guard",
            "lower_guard",
            "adjustment",
        )
    ),
    "success": {"kind": None, **_FUNDED_RATIO_KEYS},
    "pension_target": dict(_FUNDED_RATIO_KEYS),
}


@dataclass(frozen=True)
class PlanConfig:
    """A member, as written in the study file; ``to_plan`` makes the engine's ``Plan``."""

    name: str
    plan: Plan
    strategy: str | None = None
    pension_target: FundedRatio | None = None


@dataclass(frozen=True)
class Mortality:
    """Whose lifetime weights success: SSA tables (:mod:`backtest.mortality`)."""

    sex: Sex
    birth_year: int
    reading: Reading = "cohort"


def _withdrawal(t: Table) -> WithdrawalRule | None:
    rule = t.string("rule", WITHDRAWAL_RULES[0], WITHDRAWAL_RULES)
    cls = {
        "constant_real": ConstantReal,
        "fixed_percent": FixedPercent,
        "guyton_klinger": GuytonKlinger,
        "rmd": RequiredMinimum,
    }.get(rule, ConstantReal)
    d = defaults(cls)
    timing: WithdrawalTiming = t.choice("timing", d["timing"], ("start", "end", "split"))
    if rule == "none":
        return None
    if rule == "constant_real":
        amount = t.optional_number("amount", lo=0)
        rate = None if amount is not None else t.number("rate", d["rate"], 0, 1)
        return ConstantReal(
            rate=rate,
            amount=amount,
            indexed=t.boolean("indexed", d["indexed"]),
            timing=timing,
        )
    if rule == "fixed_percent":
        return FixedPercent(rate=t.number("rate", d["rate"], 0, 1), timing=timing)
    if rule == "guyton_klinger":
        return GuytonKlinger(
            initial_rate=t.number("rate", d["initial_rate"], 0, 1),
            upper_guard=t.number("upper_guard", d["upper_guard"], 1, 10),
            lower_guard=t.number("lower_guard", d["lower_guard"], 0, 1),
            adjustment=t.number("adjustment", d["adjustment"], 0, 1),
            timing=timing,
        )
    return RequiredMinimum(
        pre_table_rate=t.number("rate", d["pre_table_rate"], 0, 1),
        timing=timing,
    )


def _success(t: Table) -> MoneyLasts | FundedRatio:
    kind = t.string("kind", "money_lasts", SUCCESS_RULES)
    if kind == "money_lasts":
        return MoneyLasts()
    return _funded_ratio(t)


def _funded_ratio(t: Table) -> FundedRatio:
    d = defaults(FundedRatio)
    return FundedRatio(
        replacement_rate=t.optional_number("replacement_rate", lo=0),
        accrual_rate=t.optional_number("accrual_rate", lo=0),
        final_average_years=t.integer("final_average_years", d["final_average_years"], lo=1),
        payout_years=t.optional_number("payout_years", lo=1),
        discount_rate_real=t.number("discount_rate_real", d["discount_rate_real"], -0.05, 0.2),
        threshold=t.number("threshold", d["threshold"], 0, 10),
    )


def _plan(t: Table) -> PlanConfig:
    name = t.string("name", None)
    c, p = defaults(Contributions), defaults(Plan)
    salary = t.number("salary", 0.0, lo=0)  # no salary: no Contributions at all
    saving: dict[str, Any] = {  # numbers and the timing string, each read typed
        "salary_growth_real": t.number("salary_growth_real", c["salary_growth_real"], -0.5, 0.5),
        "rate": t.number("contribution_rate", 0.0, 0, 1),  # Contributions.rate has no default
        "match_rate": t.number("match_rate", c["match_rate"], 0, 10),
        "match_cap": t.number("match_cap", c["match_cap"], 0, 1),
        "annual_limit": t.optional_number("annual_limit", lo=0),
        "catch_up": t.number("catch_up", c["catch_up"], lo=0),
        "timing": t.string("contribution_timing", c["timing"], ("start", "end")),
    }
    contributions = Contributions(salary=salary, **saving) if salary > 0 else None
    plan = Plan(
        start_age=t.number("start_age", None, 0, 125),
        retirement_age=t.number("retirement_age", None, 0, 125),
        end_age=t.number("end_age", None, 0, 125),
        initial_balance=t.number("initial_balance", p["initial_balance"], lo=0),
        contributions=contributions,
        withdrawal=_withdrawal(t.table("withdrawal")),
        expense_ratio=t.number("expense_ratio", p["expense_ratio"], 0, 0.2),
        transaction_cost_bps=t.number("transaction_cost_bps", p["transaction_cost_bps"], 0, 1000),
        rmd_floor=t.boolean("rmd_floor", p["rmd_floor"]),
        success=_success(t.table("success")),
        birth_year=t.optional_integer("birth_year"),  # first RMD age 73 or 75 (SECURE 2.0)
    )
    pension = None
    if "pension_target" in t.raw:
        pension = _funded_ratio(t.table("pension_target"))
        if contributions is None:
            raise StudyError(f"{t.where}.pension_target needs a salary (it is a share of it)")
    strategy = t.raw.get("strategy")
    t.seen.add("strategy")
    if strategy is not None and not isinstance(strategy, str):
        raise StudyError(f"{t.where}.strategy = {strategy!r}; expected a preset name")
    return PlanConfig(name=name, plan=plan, strategy=strategy, pension_target=pension)


def read_plans(plans_raw: list[Any]) -> tuple[PlanConfig, ...]:
    """The members of a non-empty list of ``[[plans]]`` tables; names must be unique."""
    plans = []
    for i, p in enumerate(plans_raw):
        t = Table(p, f"[[plans]] #{i + 1}")
        cfg = _plan(t)
        t.done()
        plans.append(cfg)
    names = [p.name for p in plans]
    if len(set(names)) != len(names):
        raise StudyError(f"[[plans]] names must be unique; got {names}")
    return tuple(plans)

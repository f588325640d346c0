"""A plan and its rules in words: the one description every report and command prints.

Reports show a member's plan to people, not to Python: ``ConstantReal(amount=35000.0,
indexed=True, timing='start')`` reads "35,000 USD a year, raised with inflation, paid at
the start of each year". Amounts are real USD of the plan's start date; rates are
decimals shown as percentages.
"""

from __future__ import annotations

import re

from backtest.plan import (
    ConstantReal,
    Contributions,
    FixedPercent,
    FundedRatio,
    GuytonKlinger,
    MoneyLasts,
    Plan,
    RequiredMinimum,
)
from backtest.report.units import format_value, readable

_TIMING = {
    "start": "at the start of each year",
    "end": "at the end of each year",
    "split": "half at the start and half at the end of each year",
}


def _pct(x: float) -> str:
    """A decimal rate as a percentage in prose, with the decimals it needs up to three:
    0.04 -> '4%', 0.035 -> '3.5%', 0.0060 -> '0.6%'."""
    v = 100.0 * x
    digits = next((d for d in range(3) if round(v, d) == round(v, 3)), 3)
    return format_value(x, "pct", digits, sep="")


def describe_withdrawal(rule: object) -> str:
    """The withdrawal rule in words (``None``: no withdrawals)."""
    if rule is None:
        return "no withdrawals"
    timing = _TIMING.get(getattr(rule, "timing", ""), "")
    if isinstance(rule, ConstantReal):
        size = (
            f"{format_value(rule.amount, 'usd')} a year"
            if rule.amount is not None
            else f"{_pct(rule.rate or 0.0)} of the balance at retirement a year"
        )
        kept = (
            "raised with inflation (constant in real terms)"
            if rule.indexed
            else "fixed in dollars from retirement (inflation erodes it)"
        )
        text = f"{size}, {kept}"
    elif isinstance(rule, FixedPercent):
        text = f"{_pct(rule.rate)} of the current balance each year (the income varies)"
    elif isinstance(rule, GuytonKlinger):
        text = (
            f"Guyton-Klinger guardrails: {_pct(rule.initial_rate)} of the balance at retirement, "
            f"raised with inflation, cut {_pct(rule.adjustment)} when the rate passes "
            f"{rule.upper_guard:g} x the initial rate and raised {_pct(rule.adjustment)} below "
            f"{rule.lower_guard:g} x"
        )
    elif isinstance(rule, RequiredMinimum):
        text = (
            "the IRS required minimum (balance / Uniform Lifetime Table divisor), "
            f"{_pct(rule.pre_table_rate)} of the balance before the table's first age"
        )
    else:
        text = type(rule).__name__
    return f"{text}, paid {timing}" if timing else text


def describe_contributions(c: Contributions | None) -> str:
    """Saving from salary in words (``None``: no contributions)."""
    if c is None:
        return "no contributions"
    text = f"saves {_pct(c.rate)} of a {format_value(c.salary, 'usd')} salary"
    if c.salary_growth_real:
        text += f" growing {_pct(c.salary_growth_real)} a year above inflation"
    if c.match_rate:
        text += (
            f", employer match {_pct(c.match_rate)} of contributions up to {_pct(c.match_cap)} "
            "of salary"
        )
    if c.annual_limit is not None:
        text += f", limit {format_value(c.annual_limit, 'usd')} a year"
        if c.catch_up:
            text += f" (+{format_value(c.catch_up, 'usd')} from age {c.catch_up_age:g}"
            if c.super_catch_up != c.catch_up:
                text += f", +{format_value(c.super_catch_up, 'usd')} at 60-63"
            text += ")"
        if c.total_limit is not None:
            text += f", employee + employer at most {format_value(c.total_limit, 'usd')} (415(c))"
    return text


def describe_success(success: object) -> str:
    """What counts as success, in words."""
    if isinstance(success, MoneyLasts):
        return "the money lasts to the end age"
    if isinstance(success, FundedRatio):
        return f"the balance at retirement funds {describe_pension_target(success)}"
    return str(getattr(success, "name", type(success).__name__))


def describe_pension_target(target: FundedRatio) -> str:
    """A defined-benefit style target income in words."""
    if target.replacement_rate is not None:
        income = f"{_pct(target.replacement_rate)} of final salary"
    else:
        income = (
            f"{_pct(target.accrual_rate or 0.0)} of the final {target.final_average_years}-year "
            "average salary per year of service"
        )
    horizon = (
        f"for {target.payout_years:g} years"
        if target.payout_years is not None
        else "to the end age"
    )
    ratio = "" if target.threshold == 1 else f" {target.threshold:g} times over"
    return (
        f"an income of {income}, paid {horizon}, valued at {_pct(target.discount_rate_real)} "
        f"real{ratio}"
    )


def describe_plan(plan: Plan) -> str:
    """One line: ages, balance, contributions, withdrawals, fees and success, in words."""
    parts = [
        f"ages {plan.start_age:g} \u2192 retires at {plan.retirement_age:g} \u2192 "
        f"{plan.end_age:g}",
        f"starts with {format_value(plan.initial_balance, 'usd')}",
    ]
    if plan.contributions is not None:
        parts.append(describe_contributions(plan.contributions))
    parts.append(f"withdraws {describe_withdrawal(plan.withdrawal)}")
    fees = f"fees {format_value(plan.expense_ratio, 'pct', 2, sep='')} a year"
    if plan.transaction_cost_bps:
        fees += f", trading costs {plan.transaction_cost_bps:g} bps of turnover"
    parts.append(fees)
    parts.append(f"success: {describe_success(plan.success)}")
    return "; ".join(parts) + " (amounts in real USD of the start date)"


__all__ = [
    "describe_contributions",
    "describe_pension_target",
    "describe_plan",
    "describe_success",
    "describe_withdrawal",
]


#: Library and code names in generated descriptions, and the words a reader gets instead.
_PLAIN: tuple[tuple[str, str], ...] = (
    (
        "mean over columns of arch.bootstrap.optimal_block_length",
        "the mean over the assets of the automatic block length of Politis and White",
    ),
    ("optimal_block_length", "automatic block length"),
)


def plain_words(text: str) -> str:
    """A generated description (``Scenarios.description``) for a reader: library names in
    words, registry names (``us_stocks``) as their labels ("US stocks"), ``1928..2025``
    as ``1928–2025``."""
    for raw, words in _PLAIN:
        text = text.replace(raw, words)
    return readable(re.sub(r"(\d{4})\.\.(\d{4})", "\\1\u2013\\2", text))

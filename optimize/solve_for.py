"""Solve for the input that reaches a target rate, by bisection on common random numbers.

The model. ``fn(x)`` scores one value of a scalar input ``x`` (a withdrawal rate, a
starting balance, a retirement age, a break-even return) on a FIXED set of ``n``
scenarios and returns one outcome per scenario (success flags, or any per-scenario
value); the statistic is their mean, ``p(x)``. Because every call reuses the same
scenarios (common random numbers), ``p`` is a deterministic step function of ``x`` and
bisection on it is exact: no noise between two evaluations can reverse a comparison.

The answer. ``x*`` is the boundary between the values where ``p(x) >= target``
(feasible) and those where it is not, reported from the feasible side (so the rate at
the answer reaches the target). ``p`` must be monotone in ``x`` over ``[lo, hi]``, in
either direction; the two ends must lie on opposite sides of the target.

Its sampling uncertainty. ``x*`` is an estimate: another draw of ``n`` scenarios would
move it. Inverting the test of ``p(x) = target`` gives the interval of inputs the data
cannot tell apart from the answer: ``{x : |p(x) - target| <= z se}``, with
``se = s / sqrt(n_eff)`` and ``s`` the outcomes' standard deviation at ``x*`` (for flags,
``sqrt(p (1 - p))``). Its ends are two more bisections on the same scenarios, for the
targets ``target -/+ z se``. Pass ``n_effective`` when scenarios are dependent (overlapping
historical cohorts): it widens the interval honestly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from backtest.errors import GlidelabError

__all__ = ["SolveError", "SolveResult", "bisect_on_crn"]


class SolveError(GlidelabError, ValueError):
    """A solve-for cannot run: the bracket does not straddle the target, or bad settings."""


@dataclass(frozen=True)
class SolveResult:
    """The answer of :func:`bisect_on_crn`, with its sampling uncertainty.

    Attributes
    ----------
    x : float
        The answer, in the units of ``fn``'s input: the feasible end of the final bracket
        (``p(x) >= target``).
    target : float
        The rate aimed at (the statistic's units, e.g. a success probability in [0, 1]).
    achieved : float
        ``p(x)``: the mean outcome at the answer, on the common scenarios.
    ci_low, ci_high : float
        Ends of the ``confidence`` interval for ``x`` (``ci_low <= x <= ci_high``); an end
        equal to ``lo`` or ``hi`` means the interval is censored by the search bracket.
    standard_error : float
        ``se`` of the statistic at the answer: outcome standard deviation / sqrt(n_eff).
    confidence : float
        Two-sided confidence level of the interval, e.g. 0.95.
    n_scenarios : int
        Outcomes per evaluation.
    n_effective : float
        Effective independent scenarios used for ``standard_error``.
    n_evaluations : int
        Calls of ``fn`` made (answer and interval together; each ``x`` at most once).
    increasing : bool
        Whether ``p`` rises with ``x`` (then the answer is the SMALLEST feasible ``x``;
        otherwise the LARGEST).
    censored : bool
        True when an interval end hit the search bracket.
    """

    x: float
    target: float
    achieved: float
    ci_low: float
    ci_high: float
    standard_error: float
    confidence: float
    n_scenarios: int
    n_effective: float
    n_evaluations: int
    increasing: bool
    censored: bool


class _Evaluator:
    """Call ``fn`` at most once per ``x``, check outcome shape, remember the means."""

    def __init__(
        self,
        fn: Callable[[float], np.ndarray],
        fn_many: Callable[[Sequence[float]], Sequence[np.ndarray]] | None = None,
    ) -> None:
        self.fn = fn
        self.fn_many = fn_many
        self.outcomes: dict[float, np.ndarray] = {}
        self.n: int | None = None

    def many(self, xs: Sequence[float]) -> list[float]:
        """Means at every ``x`` of ``xs``, the new ones in one ``fn_many`` call if given."""
        new = [x for x in dict.fromkeys(xs) if x not in self.outcomes]
        if self.fn_many is not None and len(new) > 1:
            outs = list(self.fn_many(new))
            if len(outs) != len(new):
                raise SolveError(f"fn_many returned {len(outs)} results for {len(new)} inputs")
            for x, out in zip(new, outs, strict=True):
                self._store(x, out)
        return [self(x) for x in xs]

    def __call__(self, x: float) -> float:
        if x not in self.outcomes:
            self._store(x, self.fn(x))
        return float(self.outcomes[x].mean())

    def _store(self, x: float, raw: np.ndarray) -> None:
        if x not in self.outcomes:
            out = np.asarray(raw, dtype=np.float64).reshape(-1)
            if out.size == 0 or not np.all(np.isfinite(out)):
                raise SolveError(
                    f"fn({x!r}) returned {out.size} outcomes with non-finite values; "
                    "return one finite outcome per scenario (e.g. success flags)"
                )
            if self.n is None:
                self.n = out.size
            elif out.size != self.n:
                raise SolveError(
                    f"fn({x!r}) returned {out.size} outcomes, earlier calls {self.n}; "
                    "evaluate every x on the same scenarios (common random numbers)"
                )
            self.outcomes[x] = out


@dataclass(frozen=True)
class _Search:
    """How every bisection of one solve runs (checked by :func:`_search_settings`).

    ``xtol``: absolute tolerance on ``x`` (unused with ``integer``); ``integer``: whole
    inputs only; ``max_iter``: rounds per search; ``per_round``: inputs per round."""

    xtol: float
    integer: bool
    max_iter: int
    per_round: int

    def converged(self, feasible_x: float, infeasible_x: float) -> bool:
        """Whether the bracket is as tight as asked: adjacent integers, or within ``xtol``."""
        gap = abs(infeasible_x - feasible_x)
        return (gap <= 1) if self.integer else (gap <= self.xtol)


def _search_settings(
    lo: float,
    hi: float,
    xtol: float | None,
    integer: bool,
    confidence: float,
    max_iter: int,
    per_round: int,
) -> _Search:
    """Check :func:`bisect_on_crn`'s settings; ``xtol`` defaults to ``(hi - lo) * 1e-4``."""
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise SolveError(f"solve bracket [{lo}, {hi}] is empty; pass finite lo < hi")
    if not 0 < confidence < 1:
        raise SolveError(f"confidence={confidence} must lie in (0, 1), e.g. 0.95")
    if integer and (lo != math.floor(lo) or hi != math.floor(hi)):
        raise SolveError(f"integer search needs whole ends; got [{lo}, {hi}]")
    if xtol is None:
        xtol = (hi - lo) * 1e-4
    if not xtol > 0:
        raise SolveError(f"xtol={xtol} must be positive")
    if per_round < 1:
        raise SolveError(f"per_round={per_round} must be >= 1")
    return _Search(xtol, integer, max_iter, per_round)


def _round_inputs(feasible_x: float, infeasible_x: float, search: _Search) -> list[float]:
    """One round's inputs: ``per_round`` evenly inside the bracket, from its feasible end.

    With ``integer``, rounded towards the feasible end, deduplicated, the ends left out."""
    step = (infeasible_x - feasible_x) / (search.per_round + 1)
    xs = [feasible_x + step * j for j in range(1, search.per_round + 1)]
    if search.integer:
        rnd = math.floor if feasible_x < infeasible_x else math.ceil
        xs = [float(rnd(x)) for x in xs]
        xs = [x for x in dict.fromkeys(xs) if x not in (feasible_x, infeasible_x)]
    return xs


def _bisect(
    ev: _Evaluator, feasible_x: float, infeasible_x: float, target: float, search: _Search
) -> tuple[float, float, bool]:
    """Shrink a (feasible, infeasible) bracket around ``p = target``; return it and convergence.

    Each round evaluates ``per_round`` evenly spaced inputs inside the bracket (1: plain
    bisection) and keeps the adjacent pair that straddles the target: the bracket shrinks
    by ``per_round + 1`` a round, so a batch-capable ``fn_many`` needs fewer rounds.
    """
    for _ in range(search.max_iter):
        if search.converged(feasible_x, infeasible_x):
            return feasible_x, infeasible_x, True
        xs = _round_inputs(feasible_x, infeasible_x, search)
        # Ordered from the feasible end; p is monotone, so the first miss ends the scan.
        for x, p in zip(xs, ev.many(xs), strict=True):
            if p >= target:
                feasible_x = x
            else:
                infeasible_x = x
                break
    return feasible_x, infeasible_x, search.converged(feasible_x, infeasible_x)


def _tightest_bracket(ev: _Evaluator, target: float, increasing: bool) -> tuple[float, float]:
    """From the points already evaluated, the closest feasible/infeasible pair for ``target``."""
    xs = sorted(ev.outcomes)
    means = [float(ev.outcomes[x].mean()) for x in xs]
    feas = [x for x, m in zip(xs, means, strict=True) if m >= target]
    infeas = [x for x, m in zip(xs, means, strict=True) if m < target]
    if increasing:  # feasible above: smallest feasible, largest infeasible
        return min(feas), max(infeas)
    return max(feas), min(infeas)


def _direction(ev: _Evaluator, lo: float, hi: float, target: float) -> bool:
    """Whether the rate rises with ``x``: ``hi`` reaches ``target`` and ``lo`` does not.

    Raises :class:`SolveError` when both ends lie on the same side of the target."""
    p_lo, p_hi = ev.many([lo, hi])
    if (p_lo >= target) == (p_hi >= target):
        raise SolveError(
            f"the bracket does not straddle the target {target:g}: the rate is {p_lo:.4g} at "
            f"{lo:g} and {p_hi:.4g} at {hi:g}; widen [lo, hi] so one end reaches it and one not"
        )
    return p_hi >= target


def _answer(
    ev: _Evaluator, lo: float, hi: float, target: float, increasing: bool, search: _Search
) -> float:
    """The feasible boundary ``x*`` for ``target``, searched over the whole bracket."""
    feasible_x, infeasible_x = (hi, lo) if increasing else (lo, hi)
    x, _, converged = _bisect(ev, feasible_x, infeasible_x, target, search)
    if not converged:
        raise SolveError(
            f"bisection did not reach xtol={search.xtol:g} in {search.max_iter} steps; "
            "raise max_iter"
        )
    return x


def _standard_error(outcomes: np.ndarray, n_effective: float | None) -> tuple[float, float]:
    """``(n_eff, se)``: effective scenarios and the standard error of the outcomes' mean.

    ``se = sd / sqrt(n_eff)`` (sample standard deviation, ``ddof=1``; 0 for one outcome),
    in the units of the outcomes (e.g. a success probability, decimal)."""
    n = outcomes.size
    n_eff = float(n if n_effective is None else n_effective)
    if not 1 <= n_eff <= n:
        raise SolveError(f"n_effective={n_effective} must lie in [1, {n}] (the scenarios)")
    sd = float(outcomes.std(ddof=1)) if n > 1 else 0.0
    return n_eff, sd / math.sqrt(n_eff)


def _interval_end(
    ev: _Evaluator, lo: float, hi: float, t: float, increasing: bool, search: _Search
) -> tuple[float, bool]:
    """The feasible boundary for the shifted target ``t``, and whether it is the bracket's end.

    Starts from the tightest bracket among the points already evaluated (common random
    numbers: those evaluations are reused, never repeated)."""
    p_bounds = (ev(lo), ev(hi))
    if not any(p >= t for p in p_bounds):  # nothing reaches t: the feasible bound
        return (hi if increasing else lo), True
    if all(p >= t for p in p_bounds):  # everything reaches t: the other bound
        return (lo if increasing else hi), True
    f, i = _tightest_bracket(ev, t, increasing)
    end, _, _ = _bisect(ev, f, i, t, search)
    return end, False


def _interval(
    ev: _Evaluator,
    lo: float,
    hi: float,
    x: float,
    target: float,
    half_width: float,
    increasing: bool,
    search: _Search,
) -> tuple[float, float, bool]:
    """``(ci_low, ci_high, censored)``: the inputs whose rate is within ``half_width`` of target.

    The end on the feasible side solves for ``target + half_width``, the other for
    ``target - half_width`` (``half_width = z se``, the statistic's units). The answer ``x``
    always lies in its own interval (the step function can put it on an end)."""
    strict, censored_strict = _interval_end(ev, lo, hi, target + half_width, increasing, search)
    loose, censored_loose = _interval_end(ev, lo, hi, target - half_width, increasing, search)
    ci_low, ci_high = sorted((strict, loose))
    return min(ci_low, x), max(ci_high, x), censored_strict or censored_loose


def bisect_on_crn(
    fn: Callable[[float], np.ndarray],
    lo: float,
    hi: float,
    target: float,
    *,
    xtol: float | None = None,
    integer: bool = False,
    confidence: float = 0.95,
    n_effective: float | None = None,
    max_iter: int = 60,
    fn_many: Callable[[Sequence[float]], Sequence[np.ndarray]] | None = None,
    per_round: int = 1,
) -> SolveResult:
    """Find the input where the mean outcome crosses ``target``, with its uncertainty.

    Parameters
    ----------
    fn : callable
        ``fn(x) -> array (n_scenarios,)``: per-scenario outcomes at input ``x`` (e.g.
        success flags as bool or 0/1), ALWAYS on the same scenarios (common random
        numbers). Their mean ``p(x)`` must be monotone in ``x`` on ``[lo, hi]``.
    lo, hi : float
        Search bracket, ``lo < hi``, in ``fn``'s units (e.g. a withdrawal rate as a decimal
        of the starting balance a year). One end must reach ``target`` and the other not.
    target : float
        Rate to reach, in the units of the outcomes' mean (0.9 = 90 % success).
    xtol : float, optional
        Absolute tolerance on ``x``; default ``(hi - lo) * 1e-4``. Ignored with ``integer``.
    integer : bool
        Search whole numbers only (e.g. a retirement age in years); ``lo`` and ``hi`` must
        be whole.
    confidence : float
        Two-sided level of the interval, in (0, 1).
    n_effective : float, optional
        Effective number of independent scenarios for the standard error (default: the
        number of outcomes). Lower it for overlapping historical cohorts.
    max_iter : int
        Maximum bisection rounds per search.
    fn_many : callable, optional
        ``fn_many(xs) -> [outcomes at x for x in xs]``: several inputs at once (e.g. one
        scenario draw simulated for every ``x``); same contract as ``fn``.
    per_round : int
        Inputs evaluated per round (with ``fn_many``): the bracket shrinks by
        ``per_round + 1`` a round. The answer is the same feasible boundary (exactly for
        ``integer``; within ``xtol`` otherwise).

    Returns
    -------
    SolveResult
        The feasible boundary ``x`` and the interval ``[ci_low, ci_high]``.

    Raises
    ------
    SolveError
        If the bracket is empty, does not straddle the target, or ``fn`` changes the
        number of outcomes between calls.
    """
    search = _search_settings(lo, hi, xtol, integer, confidence, max_iter, per_round)
    lo, hi = float(lo), float(hi)
    ev = _Evaluator(fn, fn_many)
    increasing = _direction(ev, lo, hi, target)
    x = _answer(ev, lo, hi, target, increasing, search)
    outcomes = ev.outcomes[x]
    n_eff, se = _standard_error(outcomes, n_effective)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    ci_low, ci_high, censored = _interval(ev, lo, hi, x, target, z * se, increasing, search)
    return SolveResult(
        x=x,
        target=float(target),
        achieved=float(outcomes.mean()),
        ci_low=ci_low,
        ci_high=ci_high,
        standard_error=se,
        confidence=confidence,
        n_scenarios=outcomes.size,
        n_effective=n_eff,
        n_evaluations=len(ev.outcomes),
        increasing=increasing,
        censored=censored,
    )

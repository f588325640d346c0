"""Sequential convex programming (SCP) over glide-path knots: one trust-region driver and
the building blocks the glide-path search (:mod:`optimize.glidepath`) and fund design
(:mod:`optimize.fund_design`) share.

The driver, :func:`trust_region_scp`
------------------------------------
Start from scored knots. Each iteration linearises the success margins ``x`` at the
current knots ``z0`` (``x ~ b + J z``), solves a convex subproblem within the trust
radius ``rho`` (``|z - z0| <= rho`` per weight), and scores the candidate exactly (by
simulation or the exact margins, on the same scenarios: common random numbers). A
candidate that scores better is accepted and ``rho`` grows (x 1.5, at most 1); otherwise
``rho`` halves. The search stops at ``max_iterations``, when ``rho`` falls below
``min_trust_radius``, or when the caller's ``finished`` test says so (e.g. 100 %
success). A subproblem that gives no candidate (solver failure, degenerate solution)
counts as a rejected step. Every iteration is recorded.

Building blocks
---------------
* knots: :func:`interpolation_matrix` (``weights_by_period = M @ knots``),
  :func:`clean_knots`, :func:`simplex_basis`, :func:`linear_model`;
* constraints on knot weights as named groups, homogenised by the bPOE multiplier
  (:class:`KnotConstraints`), and the least-squares :func:`project` onto any named
  groups, which names the conflicting ones when they cannot all hold;
* :func:`solve_with_fallbacks` (CLARABEL, then ECOS where installed, then SCS, with an
  :class:`OptimizationWarning` for every fallback) with explicit status checks;
* the buffered probability of failure (:func:`buffered_failure_probability`) and its
  convexified subproblem :class:`BpoeSubproblem` (Mafusalov and Uryasev 2018): built
  once with ``cp.Parameter`` s, re-solved every iteration;
* screened tail sums (:class:`TailRows`, :func:`solve_screened`): a CVaR or bPOE step
  over many scenarios carries only the scenarios near its threshold as hinges (the rest
  as one linear term, or not at all) and widens the split until it is exact: the same
  LP optimum with a fraction of the rows (fund design's 20,000 member-paths: a step
  falls from seconds to a tenth of one);
* :class:`Projector`: :func:`project` with its problem built once.

Weights are decimal (0.6 = 60 %); knot ages are in years of age.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from backtest.errors import GlidelabError
from backtest.types import FloatArray

#: Solvers tried in order; the first installed one that solves wins.
DEFAULT_SOLVERS: tuple[str, ...] = ("CLARABEL", "ECOS", "SCS")
#: Largest bPOE multiplier ``a``: ``1 / a`` is the margin buffer, and margins are O(1).
BPOE_MULTIPLIER_MAX = 1e4
#: A solved multiplier at or below this gives no candidate (``z = y / a`` is undefined).
_A_MIN = 1e-9


class OptimizationError(GlidelabError, ValueError):
    """The glide-path problem is infeasible or no solver could solve it."""


class InfeasibleProblem(OptimizationError):
    """A solver proved the convex problem infeasible (the constraints cannot all hold)."""


class OptimizationWarning(UserWarning):
    """Something in the search did not go as planned (e.g. a solver fell back)."""


# ------------------------------------------------------------------------ knots


def interpolation_matrix(period_ages: FloatArray, knot_ages: FloatArray) -> FloatArray:
    """Matrix ``M`` (n_periods, n_knots) with ``weights_by_period = M @ knot_weights``
    (piecewise-linear in age, flat outside the knots; ages in years)."""
    eye = np.eye(knot_ages.size)
    return np.column_stack([np.interp(period_ages, knot_ages, eye[k]) for k in range(eye.shape[0])])


def clean_knots(knots: FloatArray) -> FloatArray:
    """Knot weights (n_knots, n_assets) with solver round-off clipped to [0, 1] and each
    row renormalised to sum to one (decimal weights)."""
    w = np.clip(np.asarray(knots, dtype=np.float64), 0.0, 1.0)
    return w / w.sum(axis=1, keepdims=True)


def simplex_basis(n_assets: int) -> FloatArray:
    """Basis ``N`` (n_assets, n_assets - 1) of ``{v: sum(v) = 0}``: every row of knots
    summing to one is ``1 / n_assets + N u`` for some ``u``, one column fewer per knot."""
    return np.vstack([np.eye(n_assets - 1), -np.ones((1, n_assets - 1))])


def linear_model(
    x: FloatArray, jac_knots: FloatArray, knots: FloatArray, basis: FloatArray | None = None
) -> tuple[FloatArray, FloatArray]:
    """First-order model ``x ~ offset + jac @ u`` of margins at ``knots``.

    Parameters
    ----------
    x
        Margins at ``knots``, (m,).
    jac_knots
        ``dx / dz``, (m, n_knots, n_assets).
    knots
        Current knot weights ``z0``, (n_knots, n_assets), decimal.
    basis
        ``None``: ``u = vec(z)`` (row-major). A :func:`simplex_basis` ``N``: ``u = vec(U)``
        with ``z = 1 / n_assets + U N'``.

    Returns
    -------
    jac, offset
        (m, n_u) and (m,).
    """
    m = x.size
    if basis is None:
        jac = jac_knots.reshape(m, -1)
        return jac, x - jac @ knots.ravel()
    # x ~ x0 + J (z - z0) = (x0 - J z0 + J zb) + J N u, with zb the centre 1 / n_assets
    centre = np.full(knots.shape, 1.0 / knots.shape[1])
    return (
        (jac_knots @ basis).reshape(m, -1),
        x + jac_knots.reshape(m, -1) @ (centre - knots).ravel(),
    )


# ------------------------------------------------------------------- constraints

#: Named constraint groups on knot weights ``z`` homogenised by ``a``: ``groups(z, a)``.
ConstraintGroups = Callable[[Any, Any], Mapping[str, list[Any]]]


@dataclass(frozen=True)
class KnotConstraints:
    """Constraints on knot weights (K knots, A assets) as arrays, ready to write in cvxpy.

    Attributes
    ----------
    assets, knot_ages
        Asset names (A,) and knot ages in years (K,).
    lo, hi
        Per-asset bounds on every weight, decimal, (A,).
    equity, crypto
        Indices of the equity and crypto assets.
    monotone_pairs
        Knots ``k`` with ``equity(z[k + 1]) <= equity(z[k])`` (when ``monotone_equity``).
    spacing
        Years between consecutive knots, (K - 1,).
    chol
        ``Sigma = chol @ chol.T``, the annual covariance of real returns, or ``None``.
    monotone_equity, max_change_per_year, crypto_cap, vol_cap
        As ``optimize.glidepath.GlidePathConstraints`` (decimal; change per year of age;
        volatility annual).
    """

    assets: tuple[str, ...]
    knot_ages: FloatArray
    lo: FloatArray
    hi: FloatArray
    equity: tuple[int, ...]
    crypto: tuple[int, ...]
    monotone_pairs: tuple[int, ...]
    spacing: FloatArray
    chol: FloatArray | None
    monotone_equity: bool = False
    max_change_per_year: float | None = None
    crypto_cap: float | None = None
    vol_cap: float | None = None

    def groups(self, z: Any, a: Any) -> dict[str, list[Any]]:
        """cvxpy constraints on knots ``z`` (K, A), homogenised by ``a`` (1.0 for plain
        knots, the bPOE multiplier in :class:`BpoeSubproblem`), by group name."""
        import cvxpy as cp  # lazy: heavy (cvxpy)

        k, n_a = self.knot_ages.size, len(self.assets)
        groups: dict[str, list[Any]] = {
            "weights in [0, 1] summing to 1": [cp.sum(z, axis=1) == a * np.ones(k), z >= 0],
        }
        if np.any(self.lo > 0) or np.any(self.hi < 1):
            groups["per-asset bounds (lower/upper)"] = [
                z >= a * np.tile(self.lo, (k, 1)),
                z <= a * np.tile(self.hi, (k, 1)),
            ]
        if self.monotone_equity and self.equity and self.monotone_pairs:
            eq = cp.sum(z[:, list(self.equity)], axis=1)
            idx = np.array(self.monotone_pairs)
            groups["monotone_equity"] = [eq[idx + 1] <= eq[idx]]
        if self.max_change_per_year is not None and k > 1:
            limit = np.outer(self.spacing * self.max_change_per_year, np.ones(n_a))
            groups["max_change_per_year"] = [cp.abs(z[1:] - z[:-1]) <= a * limit]
        if self.crypto_cap is not None and self.crypto:
            groups["crypto_cap"] = [cp.sum(z[:, list(self.crypto)], axis=1) <= a * self.crypto_cap]
        if self.vol_cap is not None and self.chol is not None:
            groups["vol_cap"] = [cp.norm(z @ self.chol, 2, axis=1) <= a * self.vol_cap]
        return groups


def flatten(groups: Mapping[str, list[Any]]) -> list[Any]:
    """The constraints of named ``groups``, in order, as one list."""
    return [c for group in groups.values() for c in group]


# ------------------------------------------------------------------------ solving


def solve_with_fallbacks(
    problem: Any, solvers: Sequence[str], fallbacks: list[str], what: str
) -> str:
    """Solve a ``cp.Problem`` with the first of ``solvers`` that works; return its name.

    Every fallback is appended to ``fallbacks`` and warned about (OptimizationWarning).

    Raises
    ------
    InfeasibleProblem
        A solver proves the problem infeasible.
    OptimizationError
        No solver reaches an optimal status (each one's reason in the message).
    """
    import cvxpy as cp  # lazy: heavy (cvxpy)

    installed = set(cp.installed_solvers())
    tried: list[str] = []
    for solver in solvers:
        if solver not in installed:
            tried.append(f"{solver}: not installed")
            continue
        try:
            with warnings.catch_warnings():
                # cvxpy's "solution may be inaccurate": every SCP candidate is checked by
                # an exact evaluation before it is accepted, so an inaccurate one is only
                # rejected.
                warnings.filterwarnings("ignore", message="Solution may be inaccurate")
                problem.solve(solver=solver)
        except cp.error.SolverError as exc:
            tried.append(f"{solver}: {str(exc).splitlines()[0] if str(exc) else 'failed'}")
            continue
        status = problem.status
        if status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
            if tried:
                note = f"{what}: fell back to {solver} after " + "; ".join(tried)
                fallbacks.append(note)
                warnings.warn(note, OptimizationWarning, stacklevel=3)
            return solver
        if status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
            raise InfeasibleProblem(f"{what}: {solver} reports the problem infeasible")
        tried.append(f"{solver}: status {status}")
    raise OptimizationError(f"{what}: no solver succeeded ({'; '.join(tried)})")


def project(
    target: FloatArray,
    groups: ConstraintGroups,
    solvers: Sequence[str],
    fallbacks: list[str],
    what: str = "projection onto the constraints",
) -> FloatArray:
    """Closest knot weights to ``target`` (least squares) that satisfy every group.

    ``groups(z, 1.0)`` gives the named constraint groups; the first one (weights summing
    to one) is never dropped.

    Raises
    ------
    OptimizationError
        The groups cannot all hold at once: the message names them and which single
        group, dropped, makes the rest feasible.
    """
    import cvxpy as cp  # lazy: heavy (cvxpy)

    z = cp.Variable(target.shape)
    named = groups(z, 1.0)

    def attempt(names: Sequence[str]) -> bool:
        cons = [c for n in names for c in named[n]]
        prob = cp.Problem(cp.Minimize(cp.sum_squares(z - target)), cons)
        try:
            solve_with_fallbacks(prob, solvers, fallbacks, what=what)
        except InfeasibleProblem:
            return False
        return True

    names = list(named)
    if not attempt(names):
        optional = names[1:]
        culprits = [n for n in optional if attempt([m for m in names if m != n])]
        detail = (
            f"dropping any one of {culprits} makes it feasible"
            if culprits
            else "no single constraint can be dropped to make it feasible"
        )
        raise OptimizationError(
            f"constraints conflict: {names} cannot all hold at once; {detail}. Relax one of "
            "them (a wider bound or band, a looser max_change_per_year or cap)"
        )
    return np.asarray(z.value, dtype=np.float64)


class Projector:
    """:func:`project` onto fixed constraint groups, with the least-squares problem built
    once (the target a ``cp.Parameter``): each call only re-solves it. When the groups
    conflict, :func:`project` is called to name them (it raises)."""

    def __init__(
        self, shape: tuple[int, ...], groups: ConstraintGroups, solvers: Sequence[str]
    ) -> None:
        import cvxpy as cp  # lazy: heavy (cvxpy)

        self.groups, self.solvers = groups, tuple(solvers)
        self.z = cp.Variable(shape)
        self.target = cp.Parameter(shape)
        cons = flatten(groups(self.z, 1.0))
        self.problem = cp.Problem(cp.Minimize(cp.sum_squares(self.z - self.target)), cons)

    def __call__(self, target: FloatArray, fallbacks: list[str], what: str) -> FloatArray:
        """The knots satisfying every group closest to ``target`` (least squares)."""
        self.target.value = np.asarray(target, dtype=np.float64)
        try:
            solve_with_fallbacks(self.problem, self.solvers, fallbacks, what)
        except InfeasibleProblem:
            return project(target, self.groups, self.solvers, fallbacks, what)
        return np.asarray(self.z.value, dtype=np.float64)


# --------------------------------------------------------------------------- bPOE


def buffered_failure_probability(x: FloatArray) -> float:
    """bPOE of the loss ``-x`` at 0: the largest tail share whose mean margin is <= 0.

    ``x`` are success margins (success iff ``x >= 0``). Equals ``1 - beta`` where
    ``CVaR_beta(-x) = 0``; an upper bound of the failure probability ``P(x < 0)``,
    decimal.
    """
    xs = np.sort(np.asarray(x, dtype=np.float64))
    n = xs.size
    csum = np.cumsum(xs)
    if csum[-1] <= 0:
        return 1.0
    nonpos = np.nonzero(csum <= 0)[0]
    if nonpos.size == 0:
        return 0.0
    j = int(nonpos[-1])  # mean of the j+1 worst margins is <= 0; of j+2 it is > 0
    # interpolate the fraction of the next scenario that keeps the tail mean at zero
    frac = -csum[j] / xs[j + 1] if xs[j + 1] > 0 else 0.0
    return float(min(1.0, (j + 1 + frac) / n))


class MarginSubproblem:
    """What every SCP subproblem shares: the cvxpy ``problem``, the margin model
    ``x ~ b + J u`` (parameters ``jac``, ``offset``; ``u`` on ``basis`` as in
    :func:`linear_model`) and the trust region's centre ``z0`` and radius ``rho``.
    Subclasses are frozen dataclasses that declare these as fields."""

    problem: Any
    jac: Any
    offset: Any
    z0: Any
    rho: Any
    basis: FloatArray | None

    def linearise(
        self, x: FloatArray, jac_knots: FloatArray, knots: FloatArray, trust_radius: float
    ) -> None:
        """Set the parameters: margins ``x`` (m,) and ``dx/dz`` (m, K, A) at ``knots``."""
        jac, offset = linear_model(x, jac_knots, knots, self.basis)
        self.jac.value = jac
        self.offset.value = offset
        self.z0.value = knots
        self.rho.value = trust_radius

    def solve(self, solvers: Sequence[str], fallbacks: list[str], what: str) -> str:
        """Solve (:func:`solve_with_fallbacks`); the solver's name."""
        return solve_with_fallbacks(self.problem, solvers, fallbacks, what)


@dataclass(frozen=True)
class BpoeSubproblem(MarginSubproblem):
    """The convexified bPOE problem of one SCP step, built once (:func:`bpoe_subproblem`).

    With the margins linearised as ``x ~ b + J u`` and ``y = a z``::

        minimise   mean_s pos(1 - a b[s] - J[s] . u(y))
        subject to constraints(y, a),  |y - a z0| <= a rho,  0 <= a <= a_max

    ``u(y) = vec(y)``, or ``y = a / n_assets + U N'`` with ``u = vec(U)`` when built on
    a :func:`simplex_basis` ``N`` (one column fewer per knot). The cvxpy objects are the
    fields; :meth:`linearise` sets the parameters, :meth:`solve` solves, :meth:`knots`
    reads ``z = y / a``.
    """

    problem: Any
    y: Any
    a: Any
    jac: Any
    offset: Any
    z0: Any
    rho: Any
    basis: FloatArray | None

    def knots(self) -> FloatArray | None:
        """The solved knots ``y / a`` (uncleaned), or ``None`` when ``a`` is ~0."""
        a_val = float(self.a.value) if self.a.value is not None else 0.0
        if a_val <= _A_MIN:
            return None
        return np.asarray(self.y.value) / a_val


def bpoe_subproblem(
    n_scenarios: int,
    n_knots: int,
    n_assets: int,
    constraints: Callable[[Any, Any], list[Any]],
    reduced: bool = False,
) -> BpoeSubproblem:
    """Build the bPOE subproblem once (see :class:`BpoeSubproblem`).

    ``constraints(y, a)`` returns the homogenised constraints on ``y = a z`` (K, A), e.g.
    ``flatten(KnotConstraints.groups(y, a))``. ``reduced=True`` carries ``n_assets - 1``
    columns per knot (the Jacobian block, which dominates the solve, shrinks by one
    column per knot); the weights' sum to one is then implied.
    """
    import cvxpy as cp  # lazy: heavy (cvxpy)

    basis = simplex_basis(n_assets) if reduced else None
    n_u = n_knots * (n_assets - 1 if reduced else n_assets)
    jac = cp.Parameter((n_scenarios, n_u))
    offset = cp.Parameter(n_scenarios)
    z0 = cp.Parameter((n_knots, n_assets))
    rho = cp.Parameter(nonneg=True)
    a = cp.Variable(nonneg=True)
    if basis is None:
        y = cp.Variable((n_knots, n_assets))
        u = cp.vec(y, order="C")
    else:
        v = cp.Variable((n_knots, n_assets - 1))
        y = a * np.full((n_knots, n_assets), 1.0 / n_assets) + v @ basis.T
        u = cp.vec(v, order="C")
    hinge = cp.pos(1.0 - cp.multiply(offset, a) - jac @ u)
    cons = [*constraints(y, a), cp.abs(y - a * z0) <= rho * a, a <= BPOE_MULTIPLIER_MAX]
    problem = cp.Problem(cp.Minimize(cp.sum(hinge) / n_scenarios), cons)
    return BpoeSubproblem(problem, y, a, jac, offset, z0, rho, basis)


# ------------------------------------------------------------------ screened tail sums


@dataclass(frozen=True)
class TailRows:
    """Rows of a tail sum ``sum_i pos(v_i - t)`` of linearised losses ``v = offset + jac @ u``
    (one per scenario), split into three sets so that a convex subproblem carries only the
    rows near the threshold ``t``:

    * ``hinge``: kept as ``pos(v_i - t)``;
    * ``above``: summed as their linear part ``v_i - t`` (equal to the hinge while
      ``v_i >= t``);
    * the rest: left out (equal to the hinge, 0, while ``v_i <= t``).

    Each replacement is <= the hinge everywhere, so the split problem is a relaxation of
    the full one: when every row is on its side at the split problem's solution
    (:meth:`misplaced` finds none), that solution solves the full problem too (the
    active-set argument of :func:`solve_screened`). Losses and ``t`` in the caller's units.
    """

    offset: FloatArray
    jac: FloatArray
    hinge: npt.NDArray[np.bool_]
    above: npt.NDArray[np.bool_]

    def expression(self, u: Any, t: Any) -> Any:
        """The split tail sum as a cvxpy expression in ``u`` (n_u,) and the threshold ``t``."""
        import cvxpy as cp  # lazy: heavy (cvxpy)

        h, a = self.hinge, self.above
        expr: Any = cp.sum(cp.pos(self.offset[h] + self.jac[h] @ u - t)) if h.any() else 0.0
        n_above = int(a.sum())
        if n_above:
            lin = float(self.offset[a].sum()) + self.jac[a].sum(axis=0) @ u - n_above * t
            expr = expr + lin
        return expr

    def misplaced(self, u: FloatArray, t: float) -> npt.NDArray[np.bool_]:
        """Rows whose side is wrong at ``(u, t)`` (beyond solver round-off)."""
        v = self.offset + self.jac @ u
        tol = SCREEN_TOLERANCE * (1.0 + abs(t) + np.abs(v))
        below = ~self.hinge & ~self.above
        return (self.above & (v < t - tol)) | (below & (v > t + tol))

    def widened(self, rows: npt.NDArray[np.bool_]) -> TailRows:
        """These rows with ``rows`` moved to the hinge set."""
        return TailRows(self.offset, self.jac, self.hinge | rows, self.above & ~rows)


#: Relative slack within which a screened row counts as on its side (solver round-off).
SCREEN_TOLERANCE = 1e-7
#: Half-width, in tail probability, of the band of rows first kept as hinges.
SCREEN_BAND = 0.1


def tail_rows(
    offset: FloatArray, jac: FloatArray, values: FloatArray, level: float, band: float = SCREEN_BAND
) -> TailRows:
    """Split the rows of ``sum_i pos(v_i - t)`` (:class:`TailRows`) whose threshold is
    expected near the ``level`` quantile of the current losses ``values`` (m,): rows
    within ``band`` of that quantile are hinges, rows above it linear, rows below it left
    out. ``level``: beta for a CVaR_beta, 1 - p for a bPOE <= p (decimal)."""
    lo, hi = np.quantile(values, [max(level - band, 0.0), min(level + band, 1.0)])
    hinge = (values >= lo) & (values <= hi)
    return TailRows(offset, jac, hinge, values > hi)


def solve_screened(
    build: Callable[[Sequence[TailRows]], tuple[Any, Any, Sequence[Any]]],
    rows: Sequence[TailRows],
    solvers: Sequence[str],
    fallbacks: list[str],
    what: str,
    max_rounds: int = 8,
) -> tuple[str, int]:
    """Solve a problem whose tail sums are split by :class:`TailRows`, exactly.

    ``build(rows)`` writes the problem with each tail sum split as ``rows`` say and returns
    ``(problem, u, thresholds)`` (the cvxpy problem, the variable ``u`` the losses are
    linear in, and each tail sum's threshold variable). After each solve, the rows on the
    wrong side of their threshold move to the hinges and the problem is solved again;
    when none is misplaced, the split problem's optimum is the full problem's (it is a
    relaxation whose value agrees with the full one at its own solution). After
    ``max_rounds`` every row is a hinge (the full problem). Returns the solver's name
    and the number of solves.

    Raises
    ------
    InfeasibleProblem, OptimizationError
        As :func:`solve_with_fallbacks` (an infeasible relaxation: the full problem is
        infeasible too).
    """
    rows = list(rows)
    for n_round in range(1, max_rounds + 1):
        if n_round == max_rounds:
            rows = [r.widened(np.ones_like(r.hinge)) for r in rows]
        problem, u, thresholds = build(rows)
        solver = solve_with_fallbacks(problem, solvers, fallbacks, what)
        u_val = np.asarray(u.value, dtype=np.float64).ravel()
        wrong = [r.misplaced(u_val, float(t.value)) for r, t in zip(rows, thresholds, strict=True)]
        if not any(w.any() for w in wrong):
            return solver, n_round
        rows = [r.widened(w) for r, w in zip(rows, wrong, strict=True)]
    return solver, max_rounds


# --------------------------------------------------------------------------- driver

#: A scored point of the search (the caller's type: knots and their exact scores).
P = TypeVar("P")


@dataclass(frozen=True)
class Proposal:
    """What one convex subproblem proposes: candidate knots (``None``: no candidate, the
    step counts as rejected), the solver that solved it, and the solve's wall time, s."""

    knots: FloatArray | None
    solver: str
    solve_seconds: float


@dataclass(frozen=True)
class ScpIteration:
    """One SCP iteration.

    ``scores`` are the caller's scores (``scores(point)``) of the candidate, or of the
    current point when there was no candidate; ``trust_radius`` is the radius the step
    was solved in; ``seconds`` the iteration's wall time (linearise, solve, evaluate).
    """

    iteration: int
    scores: tuple[float, ...]
    trust_radius: float
    accepted: bool
    solver: str
    solve_seconds: float
    seconds: float


@dataclass(frozen=True)
class ScpRun(Generic[P]):
    """The outcome of :func:`trust_region_scp`: the best point, one record per iteration,
    the final trust radius and why the search stopped."""

    best: P
    iterations: tuple[ScpIteration, ...]
    trust_radius: float
    stop_reason: str


def trust_region_scp(
    start: P,
    propose: Callable[[P, float, int], Proposal],
    evaluate: Callable[[FloatArray], P],
    better: Callable[[P, P], bool],
    *,
    scores: Callable[[P], tuple[float, ...]] = lambda _: (),
    max_iterations: int = 30,
    trust_radius: float = 0.2,
    min_trust_radius: float = 2e-3,
    finished: Callable[[P], str | None] = lambda _: None,
    on_iteration: Callable[[ScpIteration, P, float], None] | None = None,
) -> ScpRun[P]:
    """The trust-region SCP loop (module docstring), for any scored point type.

    Parameters
    ----------
    start
        The scored starting point (feasible knots).
    propose
        ``propose(current, trust_radius, iteration)``: linearise at the current point,
        solve the convex subproblem within the radius (largest change of any knot
        weight, decimal), return the candidate knots.
    evaluate
        Exact scores of candidate knots, on the same scenarios as ``start``.
    better
        ``better(candidate, current)``: accept the candidate.
    scores
        Scores to record per iteration (e.g. success and bPOE).
    max_iterations, trust_radius, min_trust_radius
        Iteration cap; initial and smallest trust radius.
    finished
        A stop reason when nothing can improve on the point (e.g. 100 % success), else
        ``None``.
    on_iteration
        Called after every iteration with its record, the current point and the next
        radius (e.g. for a progress bar).

    Returns
    -------
    ScpRun
    """
    cur = start
    rho = float(trust_radius)
    history: list[ScpIteration] = []
    stop = "max_iterations reached"
    for it in range(1, max_iterations + 1):
        reason = finished(cur)
        if reason is not None:
            stop = reason
            break
        if rho < min_trust_radius:
            stop = f"trust radius below {min_trust_radius}"
            break
        t_it = time.perf_counter()
        proposal = propose(cur, rho, it)
        accepted = False
        shown = cur
        if proposal.knots is not None:
            shown = evaluate(proposal.knots)
            accepted = better(shown, cur)
            if accepted:
                cur = shown
        record = ScpIteration(
            iteration=it,
            scores=scores(shown),
            trust_radius=rho,
            accepted=accepted,
            solver=proposal.solver,
            solve_seconds=proposal.solve_seconds,
            seconds=time.perf_counter() - t_it,
        )
        history.append(record)
        rho = min(rho * 1.5, 1.0) if accepted else rho * 0.5
        if on_iteration is not None:
            on_iteration(record, cur, rho)
    return ScpRun(best=cur, iterations=tuple(history), trust_radius=rho, stop_reason=stop)


# ------------------------------------------------------------------ linear objective


@dataclass(frozen=True)
class LinearSubproblem:
    """The convex step of an SCP that maximises a smooth objective linearised in the knots
    (e.g. the mean utility of income): built once (:func:`linear_subproblem`)::

        maximise   g . z
        subject to constraints(z, 1),  |z - z0| <= rho

    ``g`` (K, A) is the objective's gradient at ``z0``, rescaled to a largest entry of 1
    (the step's direction is all the linear model gives; the trust region sets its size,
    and the caller's exact evaluation accepts or rejects it). The cvxpy objects are the
    fields; :meth:`linearise` sets the parameters, :meth:`solve` solves, :meth:`knots`
    reads ``z``.
    """

    problem: Any
    z: Any
    gradient: Any
    z0: Any
    rho: Any

    def linearise(self, gradient: FloatArray, knots: FloatArray, trust_radius: float) -> None:
        """Set the objective's gradient ``gradient`` (K, A) at ``knots`` (K, A, decimal)
        and the trust radius (largest change of any knot weight, decimal)."""
        g = np.asarray(gradient, dtype=np.float64)
        top = float(np.max(np.abs(g))) if g.size else 0.0
        self.gradient.value = g / top if top > 0 and np.isfinite(top) else np.zeros_like(g)
        self.z0.value = np.asarray(knots, dtype=np.float64)
        self.rho.value = trust_radius

    def solve(self, solvers: Sequence[str], fallbacks: list[str], what: str) -> str:
        """Solve (:func:`solve_with_fallbacks`); the solver's name."""
        return solve_with_fallbacks(self.problem, solvers, fallbacks, what)

    def knots(self) -> FloatArray | None:
        """The solved knots (K, A), uncleaned, or ``None`` when the solver gave none."""
        return None if self.z.value is None else np.asarray(self.z.value, dtype=np.float64)


def linear_subproblem(
    n_knots: int, n_assets: int, constraints: Callable[[Any, Any], list[Any]]
) -> LinearSubproblem:
    """Build the linear-objective subproblem once (see :class:`LinearSubproblem`);
    ``constraints(z, 1.0)`` are the constraints on the knots (K, A), e.g.
    ``flatten(KnotConstraints.groups(z, 1.0))``."""
    import cvxpy as cp  # lazy: heavy (cvxpy)

    z = cp.Variable((n_knots, n_assets))
    gradient = cp.Parameter((n_knots, n_assets))
    z0 = cp.Parameter((n_knots, n_assets))
    rho = cp.Parameter(nonneg=True)
    cons = [*constraints(z, 1.0), cp.abs(z - z0) <= rho]
    problem = cp.Problem(cp.Maximize(cp.sum(cp.multiply(gradient, z))), cons)
    return LinearSubproblem(problem, z, gradient, z0, rho)

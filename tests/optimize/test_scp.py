"""The shared SCP driver and its building blocks (optimize.scp)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import cvxpy as cp
import numpy as np
import pytest

from optimize.scp import (
    DEFAULT_SOLVERS,
    InfeasibleProblem,
    KnotConstraints,
    OptimizationError,
    Proposal,
    ScpRun,
    bpoe_subproblem,
    flatten,
    linear_model,
    project,
    simplex_basis,
    solve_with_fallbacks,
    trust_region_scp,
)

OPTIMIZE = Path(__file__).resolve().parents[2] / "optimize"


def _knot_constraints(k: int = 3, n_a: int = 3, **kw: object) -> KnotConstraints:
    base: dict[str, object] = dict(
        assets=tuple(f"a{i}" for i in range(n_a)),
        knot_ages=np.linspace(25.0, 65.0, k),
        lo=np.zeros(n_a),
        hi=np.ones(n_a),
        equity=(0,),
        crypto=(),
        monotone_pairs=tuple(range(k - 1)),
        spacing=np.full(k - 1, 40.0 / (k - 1)),
        chol=None,
    )
    base.update(kw)
    return KnotConstraints(**base)  # type: ignore[arg-type]


# ----------------------------------------------------------------------- driver


def _quadratic_search(target: float, start: float, **kw: Any) -> tuple[ScpRun[float], list[float]]:
    """Maximise -(z - target)^2 over a scalar z; the subproblem steps the full radius
    towards the target (a caricature of a linearised step)."""
    evaluated: list[float] = []

    def evaluate(knots: np.ndarray) -> float:
        evaluated.append(float(knots[0, 0]))
        return float(knots[0, 0])

    def propose(z: float, rho: float, it: int) -> Proposal:
        step = np.clip(target - z, -rho, rho) if target != z else rho
        return Proposal(np.array([[z + step]]), "toy", 0.0)

    run = trust_region_scp(
        start,
        propose,
        evaluate,
        lambda new, cur: (new - target) ** 2 < (cur - target) ** 2,
        scores=lambda z: (z,),
        **kw,
    )
    return run, evaluated


def test_driver_grows_the_radius_on_success_and_halves_it_on_rejection() -> None:
    run, _ = _quadratic_search(1.0, 0.0, trust_radius=0.2, max_iterations=8)
    radii = [r.trust_radius for r in run.iterations]
    accepted = [r.accepted for r in run.iterations]
    # 0.2 + 0.3 + 0.45 = 0.95, then a step of 0.05 lands on the target; from there every
    # full-radius step overshoots and is rejected, so the radius halves.
    assert accepted == [True, True, True, True, False, False, False, False]
    np.testing.assert_allclose(radii, [0.2, 0.3, 0.45, 0.675, 1.0, 0.5, 0.25, 0.125])
    assert run.best == pytest.approx(1.0)
    assert run.stop_reason == "max_iterations reached"
    assert run.trust_radius == pytest.approx(0.0625)
    # a rejected step records the candidate's scores, not the current point's
    assert run.iterations[4].scores[0] == pytest.approx(2.0)


def test_driver_stops_when_the_radius_falls_below_its_floor() -> None:
    # The start is optimal, so every step is rejected: 0.2, 0.1, ..., 0.003125 < 0.004.
    run, evaluated = _quadratic_search(0.0, 0.0, trust_radius=0.2, min_trust_radius=0.004)
    assert len(run.iterations) == 6 and len(evaluated) == 6
    assert not any(r.accepted for r in run.iterations)
    assert run.stop_reason == "trust radius below 0.004"
    assert run.best == 0.0


def test_driver_counts_a_missing_candidate_as_a_rejected_step() -> None:
    calls: list[float] = []

    def never(knots: np.ndarray) -> float:
        raise AssertionError("no candidate, nothing to evaluate")

    def propose(z: float, rho: float, it: int) -> Proposal:
        calls.append(rho)
        return Proposal(None, "", 0.0)

    run = trust_region_scp(
        0.5, propose, never, lambda a, b: True, scores=lambda z: (z,), max_iterations=3
    )
    assert calls == [0.2, 0.1, 0.05]
    assert [r.scores for r in run.iterations] == [(0.5,)] * 3
    assert run.best == 0.5


def test_driver_stops_before_solving_when_finished() -> None:
    def propose(z: float, rho: float, it: int) -> Proposal:
        raise AssertionError("finished: nothing to propose")

    run = trust_region_scp(
        1.0,
        propose,
        lambda k: 0.0,
        lambda a, b: True,
        finished=lambda z: "perfect" if z >= 1.0 else None,
    )
    assert run.iterations == () and run.stop_reason == "perfect"


# ----------------------------------------------------------------- building blocks


def test_linear_model_predicts_the_same_in_both_bases() -> None:
    rng = np.random.default_rng(0)
    m, k, n_a = 7, 4, 3
    x, j = rng.normal(size=m), rng.normal(size=(m, k, n_a))
    z0 = rng.dirichlet(np.ones(n_a), size=k)
    z1 = rng.dirichlet(np.ones(n_a), size=k)
    expected = x + j.reshape(m, -1) @ (z1 - z0).ravel()  # first-order model at z1
    jac, off = linear_model(x, j, z0)
    np.testing.assert_allclose(off + jac @ z1.ravel(), expected, atol=1e-12)
    basis = simplex_basis(n_a)
    u1 = (z1 - 1.0 / n_a)[:, : n_a - 1]  # N's top block is the identity
    np.testing.assert_allclose(1.0 / n_a + u1 @ basis.T, z1, atol=1e-15)
    jac_r, off_r = linear_model(x, j, z0, basis)
    np.testing.assert_allclose(off_r + jac_r @ u1.ravel(), expected, atol=1e-12)


def test_reduced_and_full_bpoe_subproblems_agree() -> None:
    rng = np.random.default_rng(1)
    m, k, n_a = 60, 3, 3
    kc = _knot_constraints(k, n_a, monotone_equity=True, max_change_per_year=0.02)
    x = rng.normal(0.1, 0.5, m)
    j = rng.normal(0.0, 1.0, (m, k, n_a))
    z0 = np.tile([0.5, 0.3, 0.2], (k, 1))
    values = []
    for reduced in (False, True):
        sub = bpoe_subproblem(m, k, n_a, lambda y, a: flatten(kc.groups(y, a)), reduced=reduced)
        sub.linearise(x, j, z0, 0.1)
        sub.solve(DEFAULT_SOLVERS, [], "test")
        z = sub.knots()
        assert z is not None
        np.testing.assert_allclose(z.sum(axis=1), 1.0, atol=1e-6)
        assert np.abs(z - z0).max() <= 0.1 + 1e-6  # within the trust radius
        values.append(sub.problem.value)
    # the same convex program in two parametrisations: optima equal to solver tolerance
    assert values[0] == pytest.approx(values[1], abs=1e-6)
    assert values[0] < 1.0  # the multiplier is used: the bPOE bound is below 1


def test_project_returns_the_closest_feasible_knots() -> None:
    kc = _knot_constraints(2, 2, hi=np.array([0.6, 1.0]))
    z = project(np.array([[0.9, 0.3], [0.2, 0.8]]), kc.groups, DEFAULT_SOLVERS, [])
    # first knot: onto w0 + w1 = 1 with w0 <= 0.6; second: already feasible
    np.testing.assert_allclose(z, [[0.6, 0.4], [0.2, 0.8]], atol=1e-6)


def test_project_names_the_groups_that_conflict() -> None:
    kc = _knot_constraints(2, 2, lo=np.array([0.0, 0.7]), hi=np.array([1.0, 1.0]))

    def groups(z: Any, a: Any) -> dict[str, list[Any]]:
        named = kc.groups(z, a)
        named["equity at least 50 %"] = [z[:, 0] >= 0.5 * a]
        return named

    with pytest.raises(OptimizationError, match="dropping any one of") as err:
        project(np.full((2, 2), 0.5), groups, DEFAULT_SOLVERS, [])
    assert "['per-asset bounds (lower/upper)', 'equity at least 50 %']" in str(err.value)


def test_solve_with_fallbacks_reports_infeasibility() -> None:
    w = cp.Variable(2)
    prob = cp.Problem(cp.Minimize(cp.sum(w)), [w >= 1, cp.sum(w) <= 1])
    with pytest.raises(InfeasibleProblem, match="infeasible"):
        solve_with_fallbacks(prob, DEFAULT_SOLVERS, [], "test problem")
    fallbacks: list[str] = []
    with pytest.raises(OptimizationError, match=r"no solver succeeded \(NOPE: not installed\)"):
        solve_with_fallbacks(prob, ("NOPE",), fallbacks, "test problem")


# --------------------------------------------------------------------- structure


def test_no_module_in_optimize_imports_a_private_name() -> None:
    offenders = []
    for path in sorted(OPTIMIZE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                private = [a.name for a in node.names if a.name.startswith("_")]
                if private and node.module.split(".")[0] != "__future__":
                    offenders.append(f"{path.name}: from {node.module} import {private}")
    assert offenders == []

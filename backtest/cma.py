"""Capital-market assumptions (CMAs): a stated model of future returns, and its scenarios.

A designer who does not want to assume that the future repeats US history states what she
expects instead, in the terms a committee uses: per asset the **arithmetic mean real
return** and the **volatility of the real return** (decimal a year, simple returns), the
correlations between assets, and a constant expected inflation (so that nominal returns,
which the engine reads, are ``(1 + real) (1 + inflation) - 1``). :func:`cma_scenarios`
draws annual scenarios whose sample moments are exactly the stated ones: the set is
**moment-matched** (an affine map of the draws fixes the sample mean vector and covariance
of the real returns over all scenario-years), never inflated by a log-normal's convexity
or a Student-t's scaling (issue 25 measured the parametric generator at 20.9 % and 24.2 %
stock volatility for a history of 19.3 %).

File format (TOML; :func:`load_cma`)::

    name = "..."                 # required
    source = "..."               # where the numbers come from (required)
    example = true               # an example, not advice (printed in reports)
    inflation = 0.025            # decimal a year, constant
    distribution = "lognormal"   # or "student_t" (fat tails), with dof = 5

    [assets.us_stocks]
    arithmetic_real_return = 0.066
    volatility = 0.196

    [assets.tbonds_10y]
    arithmetic_real_return = 0.021
    volatility = 0.091

    [correlations]
    "us_stocks:tbonds_10y" = 0.07   # every pair, once; the diagonal is 1

The shipped example, :data:`EXAMPLE_PATH`, states the arithmetic real moments of the
embedded US annual history (:func:`historical_cma`, 1928-2025); a test checks its numbers
against that function, so none is typed by hand. It is labelled an example, not a
forecast.

Draws: standard normal shocks (or Student-t with ``dof`` degrees of freedom, one
chi-square draw per scenario-year shared by every asset, a multivariate t), coloured with
the log-normal covariance implied by the stated moments (``s2 = log(1 + v^2 / (1 + m)^2)``,
``cov_ij = log(1 + rho_ij v_i v_j / ((1 + m_i)(1 + m_j)))``), exponentiated, and then
moment-matched: ``R' = m + (R - mean R) S^(-1/2) C^(1/2)`` with ``S`` the sample covariance
and ``C`` the stated one (symmetric square roots). The map keeps each scenario-year's draw
a draw of its own (no mixing across years), so returns stay independent over time.

Route (:func:`cma_in_engine`, ``meta["route"]``): the map is affine per row, ``R' = c + R
W``, so the set is drawn **in the engine** (``backtest.engine_gen.CmaScenarios``): the
shocks are counter-based normals keyed by (seed, scenario, year), a Student-t's
chi-square is the sum of ``dof`` more squared normals, and a pre-pass over all the draws
(chunks of :data:`PREPASS_CHUNK` scenarios) fits ``W`` and ``c`` once; the recipe carries
them and nothing is stored. Columns the file does not state (a study's crypto asset)
are added by ``CmaScenarios.with_columns``: no data (NaN in the materialised returns, a
zero map in the kernel), as a stored set marks it. A Student-t of non-integer ``dof``
(or above :data:`ENGINE_MAX_DOF`) is drawn with numpy's chi-square and **stored**
(:func:`engine_route`).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from backtest.counter_rng import seed_key
from backtest.engine_gen import CmaScenarios, cma_raw_returns
from backtest.errors import DataError
from backtest.generators import RngLike, as_generator
from backtest.scenarios import Scenarios
from backtest.types import FloatArray

#: The shipped example file (historical US moments, labelled an example).
EXAMPLE_PATH = Path(__file__).parent / "data" / "embedded" / "cma_example.toml"

#: Distributions of the shocks: log-normal returns, or multivariate Student-t in logs.
CmaDistribution = Literal["lognormal", "student_t"]


@dataclass(frozen=True)
class CapitalMarketAssumptions:
    """Stated annual real-return moments per asset (see the module docstring).

    Attributes
    ----------
    name, source
        What the assumptions are and where they come from (printed in reports).
    assets
        Asset names, as the engine's roles read them (``us_stocks``, ``tbonds_10y``...).
    arithmetic_real_return
        ``E[(1 + r) / (1 + i)] - 1`` per asset, decimal a year.
    volatility
        Standard deviation of the annual real simple return per asset, decimal, >= 0.
    correlation
        Correlation matrix of the annual real simple returns, (k, k), unit diagonal.
    inflation
        Constant inflation, decimal a year (nominal = real compounded with it).
    distribution, dof
        ``"lognormal"`` or ``"student_t"`` with ``dof`` > 2 degrees of freedom.
    example
        True for an illustration that is not a forecast (reports say so).
    """

    name: str
    source: str
    assets: tuple[str, ...]
    arithmetic_real_return: tuple[float, ...]
    volatility: tuple[float, ...]
    correlation: tuple[tuple[float, ...], ...]
    inflation: float = 0.025
    distribution: CmaDistribution = "lognormal"
    dof: float = 5.0
    example: bool = False

    def __post_init__(self) -> None:
        k = len(self.assets)
        if k == 0 or len(set(self.assets)) != k:
            raise DataError(f"CMA {self.name!r}: give each asset once; got {list(self.assets)}")
        if len(self.arithmetic_real_return) != k or len(self.volatility) != k:
            raise DataError(f"CMA {self.name!r}: one mean and one volatility per asset")
        for a, m, v in zip(self.assets, self.arithmetic_real_return, self.volatility, strict=True):
            if not (math.isfinite(m) and m > -1.0 and math.isfinite(v) and v >= 0.0):
                raise DataError(
                    f"CMA {self.name!r}: {a} has mean {m!r}, volatility {v!r}; the arithmetic "
                    "real return must be a decimal > -1 and the volatility a decimal >= 0 "
                    "(0.05 = 5 % a year)"
                )
        c = np.asarray(self.correlation, dtype=np.float64)
        if c.shape != (k, k) or not np.all(np.isfinite(c)):
            raise DataError(f"CMA {self.name!r}: correlation must be {k} x {k} numbers")
        if not np.allclose(c, c.T) or not np.allclose(np.diag(c), 1.0) or (np.abs(c) > 1).any():
            raise DataError(
                f"CMA {self.name!r}: correlation must be symmetric, in [-1, 1], with 1s on "
                "the diagonal"
            )
        if np.linalg.eigvalsh(c).min() < -1e-10:
            raise DataError(
                f"CMA {self.name!r}: the correlations are not jointly possible (the matrix "
                "is not positive semi-definite); lower the largest ones"
            )
        if not (math.isfinite(self.inflation) and self.inflation > -1.0):
            raise DataError(f"CMA {self.name!r}: inflation={self.inflation!r} must be > -1")
        if self.distribution not in ("lognormal", "student_t"):
            raise DataError(
                f"CMA {self.name!r}: distribution={self.distribution!r}; use 'lognormal' or "
                "'student_t'"
            )
        if self.distribution == "student_t" and not self.dof > 2:
            raise DataError(f"CMA {self.name!r}: dof={self.dof!r} must be > 2")

    @property
    def mean(self) -> FloatArray:
        """Arithmetic mean real returns, (k,), decimal a year."""
        return np.asarray(self.arithmetic_real_return, dtype=np.float64)

    @property
    def covariance(self) -> FloatArray:
        """Covariance of annual real simple returns, (k, k)."""
        sd = np.asarray(self.volatility, dtype=np.float64)
        return np.asarray(self.correlation, dtype=np.float64) * np.outer(sd, sd)

    def table(self) -> pd.DataFrame:
        """One row per asset: mean and volatility in percent, for reports."""
        return pd.DataFrame(
            {
                "arithmetic real return (%)": 100 * self.mean,
                "volatility (%)": 100 * np.asarray(self.volatility),
            },
            index=pd.Index(self.assets, name="asset"),
        )


# --------------------------------------------------------------------------- file


def _number(raw: Mapping[str, Any], key: str, where: str, default: float | None = None) -> float:
    value = raw.get(key, default)
    if value is None:
        raise DataError(f"{where}: {key} is required (a decimal number, 0.05 = 5 %)")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataError(f"{where}: {key}={value!r} must be a number (a decimal, 0.05 = 5 %)")
    return float(value)


def _correlations(raw: Mapping[str, Any], assets: Sequence[str], where: str) -> FloatArray:
    k = len(assets)
    c = np.eye(k)
    seen: set[tuple[int, int]] = set()
    for key, value in raw.items():
        pair = str(key).split(":")
        if len(pair) != 2 or pair[0] not in assets or pair[1] not in assets or pair[0] == pair[1]:
            raise DataError(
                f"{where} [correlations]: {key!r} is not 'asset:other_asset' of two different "
                f"assets among {list(assets)}"
            )
        i, j = sorted((assets.index(pair[0]), assets.index(pair[1])))
        if (i, j) in seen:
            raise DataError(f"{where} [correlations]: the pair {key!r} is given twice")
        seen.add((i, j))
        c[i, j] = c[j, i] = _number({"v": value}, "v", f"{where} [correlations] {key}")
    pairs = combinations(range(k), 2)
    missing = [f"{assets[i]}:{assets[j]}" for i, j in pairs if (i, j) not in seen]
    if missing:
        raise DataError(f"{where} [correlations]: give every pair once; missing {missing}")
    return c


def parse_cma(raw: Mapping[str, Any], where: str = "CMA file") -> CapitalMarketAssumptions:
    """A CMA from the parsed TOML table of the format in the module docstring."""
    allowed = {"name", "source", "example", "inflation", "distribution", "dof", "assets",
               "correlations"}  # fmt: skip
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise DataError(f"{where}: unknown keys {unknown}; allowed: {sorted(allowed)}")
    for key in ("name", "source"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise DataError(f"{where}: {key} is required (a non-empty string)")
    assets_raw = raw.get("assets")
    if not isinstance(assets_raw, Mapping) or not assets_raw:
        raise DataError(f"{where}: give at least one [assets.<name>] table")
    assets = tuple(str(a) for a in assets_raw)
    means, vols = [], []
    for a in assets:
        t = assets_raw[a]
        if not isinstance(t, Mapping) or set(t) - {"arithmetic_real_return", "volatility"}:
            raise DataError(
                f"{where} [assets.{a}]: give arithmetic_real_return and volatility only"
            )
        means.append(_number(t, "arithmetic_real_return", f"{where} [assets.{a}]"))
        vols.append(_number(t, "volatility", f"{where} [assets.{a}]"))
    corr = _correlations(raw.get("correlations", {}), assets, where)
    dist = raw.get("distribution", "lognormal")
    if dist not in ("lognormal", "student_t"):
        raise DataError(f"{where}: distribution={dist!r}; use 'lognormal' or 'student_t'")
    example = raw.get("example", False)
    if not isinstance(example, bool):
        raise DataError(f"{where}: example must be true or false")
    return CapitalMarketAssumptions(
        name=raw["name"],
        source=raw["source"],
        assets=assets,
        arithmetic_real_return=tuple(means),
        volatility=tuple(vols),
        correlation=tuple(tuple(float(x) for x in row) for row in corr),
        inflation=_number(raw, "inflation", where, 0.025),
        distribution=dist,
        dof=_number(raw, "dof", where, 5.0),
        example=example,
    )


def load_cma(path: str | Path) -> CapitalMarketAssumptions:
    """Read a CMA file (TOML, the format in the module docstring)."""
    p = Path(path)
    if not p.is_file():
        raise DataError(
            f"no CMA file at {p}; write one like {EXAMPLE_PATH.name} (see backtest.cma's "
            "docstring for the format)"
        )
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{p}: not valid TOML ({exc})") from exc
    return parse_cma(raw, str(p))


def historical_cma(
    history: pd.DataFrame,
    assets: Sequence[str],
    name: str,
    source: str,
    inflation_column: str = "cpi",
) -> CapitalMarketAssumptions:
    """The arithmetic real moments of an annual ``history`` (rows with every value), as a
    CMA labelled an example; inflation is the history's mean CPI change."""
    frame = history[[*assets, inflation_column]].dropna()
    if len(frame) < len(assets) + 3:
        raise DataError(f"only {len(frame)} complete years to estimate {len(assets)} assets")
    infl = frame[inflation_column].to_numpy()
    real = (1.0 + frame[list(assets)].to_numpy()) / (1.0 + infl[:, None]) - 1.0
    corr = np.corrcoef(real, rowvar=False).reshape(len(assets), len(assets))
    return CapitalMarketAssumptions(
        name=name,
        source=source,
        assets=tuple(assets),
        arithmetic_real_return=tuple(float(x) for x in real.mean(axis=0)),
        volatility=tuple(float(x) for x in real.std(axis=0, ddof=1)),
        correlation=tuple(tuple(float(x) for x in row) for row in corr),
        inflation=float(infl.mean()),
        example=True,
    )


def to_toml(cma: CapitalMarketAssumptions, digits: int = 4) -> str:
    """The CMA in the file format of the module docstring, numbers rounded to ``digits``."""

    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [
        f"name = {q(cma.name)}",
        f"source = {q(cma.source)}",
        f"example = {str(cma.example).lower()}",
        f"inflation = {round(cma.inflation, digits)}",
        f"distribution = {q(cma.distribution)}",
    ]
    if cma.distribution == "student_t":
        lines.append(f"dof = {cma.dof:g}")
    for a, m, v in zip(cma.assets, cma.arithmetic_real_return, cma.volatility, strict=True):
        lines += ["", f"[assets.{a}]", f"arithmetic_real_return = {round(m, digits)}",
                  f"volatility = {round(v, digits)}"]  # fmt: skip
    lines += ["", "[correlations]"]
    for i, j in combinations(range(len(cma.assets)), 2):
        pair = f"{cma.assets[i]}:{cma.assets[j]}"
        lines.append(f"{q(pair)} = {round(cma.correlation[i][j], digits)}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- scenarios


def _sym_power(m: FloatArray, power: float) -> FloatArray:
    """``m ** power`` of a symmetric PSD matrix (eigenvalues below 1e-14 taken as 0)."""
    vals, vecs = np.linalg.eigh(m)
    vals = np.clip(vals, 0.0, None)
    big = vals > 1e-14 * max(1.0, float(vals.max()))
    p = np.zeros_like(vals)
    p[big] = vals[big] ** power
    return (vecs * p) @ vecs.T


def _log_moments(cma: CapitalMarketAssumptions) -> tuple[FloatArray, FloatArray]:
    """Mean and covariance of log gross real returns of a log-normal with the CMA's moments."""
    g = 1.0 + cma.mean
    ratio = cma.covariance / np.outer(g, g)
    if ratio.min() <= -1.0:
        raise DataError(
            f"CMA {cma.name!r}: no log-normal has these moments (a correlation too negative "
            "for the volatilities: 1 + rho v_i v_j / ((1 + m_i)(1 + m_j)) <= 0); lower the "
            "volatilities or the negative correlation"
        )
    cov_log = np.log1p(ratio)
    return np.log(g) - 0.5 * np.diag(cov_log), cov_log


def moment_match(draws: FloatArray, mean: FloatArray, cov: FloatArray) -> FloatArray:
    """Affine map of ``draws`` (n, k) whose sample mean is ``mean`` and sample covariance
    (ddof 1) is ``cov``; each row stays a function of its own row only."""
    centred = draws - draws.mean(axis=0)
    sample = np.atleast_2d(np.cov(centred, rowvar=False, ddof=1))
    w = _sym_power(sample, -0.5) @ _sym_power(cov, 0.5)
    return mean + centred @ w


#: Scenarios a pre-pass draws at a time (a fixed size, so the map does not depend on any
#: caller's chunking; 1,024 x 100 years x 10 assets is 8 MB of draws).
PREPASS_CHUNK = 1024
#: Largest Student-t degrees of freedom drawn in the engine (each costs a normal a year).
ENGINE_MAX_DOF = 30


def engine_route(cma: CapitalMarketAssumptions) -> tuple[str, str]:
    """``("engine", why)`` when :func:`cma_in_engine` draws ``cma``'s set in the engine,
    else ``("stored", why)``: log-normal shocks and a Student-t of integer ``dof`` up to
    :data:`ENGINE_MAX_DOF` (its chi-square is that many squared normals) are drawn in the
    engine; another ``dof`` needs numpy's gamma sampler, so that set is stored."""
    if cma.distribution == "lognormal":
        return "engine", "log-normal shocks, moment-matched by a map fitted in a pre-pass"
    if float(cma.dof).is_integer() and cma.dof <= ENGINE_MAX_DOF:
        return "engine", (
            f"Student-t shocks with {cma.dof:g} dof (a chi-square of {cma.dof:g} squared "
            "normals), moment-matched by a map fitted in a pre-pass"
        )
    return "stored", (
        f"Student-t shocks with dof={cma.dof:g}: drawn in the engine only for an integer "
        f"dof up to {ENGINE_MAX_DOF}; this set is drawn with numpy's chi-square and stored"
    )


def _raw_moments(
    key: np.uint64, mu: FloatArray, root: FloatArray, dof: int, n: int, t: int, ref: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Pre-pass over the whole set's raw real returns (``engine_gen.cma_raw_returns``) in
    chunks of :data:`PREPASS_CHUNK` scenarios: sample mean (K,), covariance (K, K, ddof
    1), per-asset minimum and maximum. Sums are of ``raw - ref`` (``ref`` the expected
    mean, so no cancellation) and element-wise (no BLAS: the same bits on any machine)."""
    k = len(mu)
    total, cross = np.zeros(k), np.zeros((k, k))
    low, high = np.full(k, np.inf), np.full(k, -np.inf)
    for lo in range(0, n, PREPASS_CHUNK):
        scen = np.arange(lo, min(n, lo + PREPASS_CHUNK))
        raw = cma_raw_returns(key, mu, root, dof, scen, t).reshape(-1, k)
        low, high = np.minimum(low, raw.min(axis=0)), np.maximum(high, raw.max(axis=0))
        d = [raw[:, a] - ref[a] for a in range(k)]
        for a in range(k):
            total[a] += d[a].sum()
            for b in range(a + 1):
                cross[a, b] += (d[a] * d[b]).sum()
    rows = n * t
    dm = total / rows
    cov = (cross - rows * np.outer(dm, dm)) / (rows - 1)
    cov = np.tril(cov) + np.tril(cov, -1).T
    return ref + dm, cov, low, high


def _check_floor(
    cma: CapitalMarketAssumptions, sc: CmaScenarios, low: FloatArray, high: FloatArray
) -> None:
    """Raise :class:`DataError` if a matched real return is -100 % or below. A bound from
    the raw returns' range clears most sets at once; otherwise every row is checked (a
    second pass, in chunks)."""
    w = sc.post
    bound = sc.shift + np.minimum(w * low[:, None], w * high[:, None]).sum(axis=0)
    if bound.min() > -1.0 + 1e-9:  # 1e-9: far above the sum's round-off (~1e-15)
        return
    for lo in range(0, sc.n_scenarios, PREPASS_CHUNK):
        real = sc.real_returns(np.arange(lo, min(sc.n_scenarios, lo + PREPASS_CHUNK)))
        if (real <= -1.0).any():
            raise DataError(
                f"CMA {cma.name!r}: matching the stated moments pushed a return to -100 % or "
                "below; use distribution = 'lognormal', more degrees of freedom or a lower "
                "volatility"
            )


def cma_in_engine(
    cma: CapitalMarketAssumptions,
    n_scenarios: int,
    n_periods: int,
    *,
    seed: int = 0,
    description: str | None = None,
    meta: Mapping[str, object] | None = None,
) -> Scenarios:
    """Annual scenarios whose real returns have exactly the CMA's sample moments, drawn
    in the engine when :func:`engine_route` allows (else stored).

    Engine route (``backtest.engine_gen.CmaScenarios``): the raw real returns are
    ``expm1(mu_log + root z)`` of counter-based normals keyed by (``seed``, scenario,
    year) (Student-t: scaled by an integer-dof chi-square of more such normals); a
    pre-pass over all ``n x t`` draws (chunks of :data:`PREPASS_CHUNK`) fits the
    moment-matching map ``real' = c + raw W`` (``W = S^(-1/2) C^(1/2)``, ``c = mean - m W``;
    ``S``, ``m`` the sample covariance (ddof 1) and mean, ``C`` and ``mean`` the CMA's),
    which the recipe carries, so every chunk, ``take`` or worker draws the same numbers
    and none is stored. Stored route (a non-integer or large ``dof``): numpy draws from
    ``default_rng(seed)``, matched by :func:`moment_match`. Either way nominal returns
    are ``(1 + real)(1 + inflation) - 1`` with the CMA's constant inflation (decimal a
    year), shape (n_scenarios, n_periods, k); ``meta["route"]`` and
    ``meta["route_reason"]`` say which and why. ``seed`` is an int in [0, 2**64).
    The engine set's ``with_columns`` adds columns the file does not state (no data).
    Raises :class:`DataError` if a matched real return is -100 % or below.
    """
    if int(n_scenarios) < 2 or int(n_periods) < 1:
        raise DataError(
            f"a CMA set needs n_scenarios >= 2 and n_periods >= 1; got {n_scenarios}, {n_periods}"
        )
    n, t = int(n_scenarios), int(n_periods)
    route, why = engine_route(cma)
    label = "an example, not a forecast" if cma.example else "stated assumptions"
    desc = description or (
        f"capital-market assumptions {cma.name!r} ({label}), {cma.distribution}, "
        f"moment-matched, {n} x {t} years, drawn {'in the engine' if route == 'engine' else 'and stored'}"
    )
    info: dict[str, object] = {
        "generator": "cma",
        "cma": cma.name,
        "source": cma.source,
        "distribution": cma.distribution,
        "seed": int(seed),
        "route": route,
        "route_reason": why,
        **(meta or {}),
    }
    if route == "stored":
        return _stored(cma, n, t, np.random.default_rng(int(seed)), desc, info)
    mu, cov_log = _log_moments(cma)
    root = _sym_power(cov_log, 0.5).T  # root[a, b] multiplies z_b: z @ cov_log^(1/2)
    dof = 0 if cma.distribution == "lognormal" else int(cma.dof)
    key = seed_key(int(seed))
    m, sample, low, high = _raw_moments(key, mu, root, dof, n, t, cma.mean)
    w = _sym_power(sample, -0.5) @ _sym_power(cma.covariance, 0.5)
    c = cma.mean - sum(m[b] * w[b] for b in range(len(m)))
    sc = CmaScenarios(
        mu, root, w, c, cma.inflation, cma.assets, n, t, dof=dof, seed=int(seed),
        description=desc, meta=info,
    )  # fmt: skip
    _check_floor(cma, sc, low, high)
    return sc


def _stored(
    cma: CapitalMarketAssumptions,
    n: int,
    t: int,
    gen: np.random.Generator,
    description: str,
    meta: dict[str, object],
) -> Scenarios:
    """The stored route of :func:`cma_in_engine` (numpy draws, :func:`moment_match`)."""
    k = len(cma.assets)
    mu, cov_log = _log_moments(cma)
    z = gen.standard_normal((n * t, k))
    z *= np.sqrt((cma.dof - 2.0) / gen.chisquare(cma.dof, size=(n * t, 1)))
    real = np.expm1(mu + z @ _sym_power(cov_log, 0.5))
    real = moment_match(real, cma.mean, cma.covariance)
    if (real <= -1.0).any():
        raise DataError(
            f"CMA {cma.name!r}: matching the stated moments pushed a return to -100 % or "
            "below; use distribution = 'lognormal', more degrees of freedom or a lower "
            "volatility"
        )
    nominal = (1.0 + real) * (1.0 + cma.inflation) - 1.0
    return Scenarios(
        returns=np.ascontiguousarray(nominal.reshape(n, t, k)),
        inflation=np.full((n, t), cma.inflation),
        assets=cma.assets,
        frequency="annual",
        description=description,
        meta=meta,
    )


def cma_scenarios(
    cma: CapitalMarketAssumptions, n_scenarios: int, n_periods: int, rng: RngLike = None
) -> Scenarios:
    """:func:`cma_in_engine` with its 64-bit seed drawn from ``rng`` (a Generator, an int
    seed or None): annual scenarios whose real returns have exactly the CMA's sample
    moments, nominal returns ``(1 + real)(1 + inflation) - 1`` with the CMA's constant
    inflation, shape (n_scenarios, n_periods, k); drawn in the engine unless
    :func:`engine_route` says otherwise (``meta["route"]``). Raises :class:`DataError` if
    the moment-matched draws fall to -100 % or below (fat tails with a large volatility).
    """
    gen, entropy = as_generator(rng)
    seed = int(gen.integers(0, 2**64, dtype=np.uint64))
    return cma_in_engine(cma, n_scenarios, n_periods, seed=seed, meta={"seed_entropy": entropy})


#: The assets of the shipped example (the embedded US history's equity, bonds and bills).
EXAMPLE_ASSETS: tuple[str, ...] = ("us_stocks", "tbonds_10y", "tbills")


def example_cma() -> CapitalMarketAssumptions:
    """The shipped example's assumptions, recomputed from the embedded US annual history."""
    from backtest.data import load_history  # lazy: heavy, only to rebuild the example

    history = load_history([*EXAMPLE_ASSETS, "cpi"], "annual")
    first, last = history.index[0].year, history.index[-1].year
    return historical_cma(
        history,
        EXAMPLE_ASSETS,
        name=f"Example: the arithmetic real moments of US history, {first}-{last} (not a forecast)",
        source="backtest.cma.historical_cma on the embedded US annual history (us_annual.csv: "
        "S&P 500 total return, 10-year Treasury total return, T-bills, CPI; see "
        f"PROVENANCE.md), {first}-{last}",
    )


def example_text() -> str:
    """The shipped example file's text, from :func:`example_cma` (``python -m backtest.cma``
    rewrites the file; a test checks the shipped file equals it)."""
    return (
        "# An EXAMPLE of a capital-market assumptions file: US history's own moments, not\n"
        "# advice. Write your own with the same keys. Regenerate: python -m backtest.cma\n"
        + to_toml(example_cma())
    )


if __name__ == "__main__":
    from backtest.io import write_text_atomic  # lazy: heavy, only when run as a script

    write_text_atomic(EXAMPLE_PATH, example_text())
    print(f"wrote {EXAMPLE_PATH}")


__all__ = [
    "EXAMPLE_ASSETS",
    "EXAMPLE_PATH",
    "CapitalMarketAssumptions",
    "CmaDistribution",
    "cma_in_engine",
    "cma_scenarios",
    "engine_route",
    "example_cma",
    "example_text",
    "historical_cma",
    "load_cma",
    "moment_match",
    "parse_cma",
    "to_toml",
]

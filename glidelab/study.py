"""Study files: one schema and one reader for every kind, and the shipped studies by name.

:func:`load_study` reads any study file, by path or by the name of a shipped study
(``glidelab/studies/*.toml``; :func:`shipped_studies` lists them: ``default``,
``retiree``, ``crypto_sleeve``, ``sweep_example``, ``target_date_2060``), into a
:class:`StudyFile`: the :class:`Study` with its optional ``[crypto]``
(:class:`CryptoConfig`) and ``[sweep]`` (:class:`Sweep`) sections, or a fund-design file's
:class:`DesignStudy`. Every default is written once, on its dataclass; the parsers read it
from there (:func:`defaults`).

A study is a TOML file (see ``glidelab/studies/default.toml``, the built-in default)
with these tables; every key is optional unless marked, and unknown keys are errors:

``[study]``      name, seed, description
``[data]``       frequency ("annual" | "monthly"), start, end (years), asset names for
                 the roles equity / bonds / cash / crypto
``[scenarios]``  historical (bool: rolling cohorts), bootstrap_n, block_length
                 ("auto" | number of periods), bootstrap_method ("stationary" |
                 "circular"), crypto_before_data ("exclude" | "cash" | "proxy"),
                 crypto_proxy = { mean_log_annual, vol_log_annual } for "proxy",
                 parametric_n (normal log returns estimated from the history; Bitcoin
                 from crypto_proxy, which it then needs), cma (a capital-market
                 assumptions file, ``backtest.cma``; "example" = the shipped one),
                 cma_n (annual scenarios moment-matched to it) and international_n
                 (annual studies: the international bootstrap, JST developed countries
                 with bond and bill data, real local currency, each block from one
                 country; shown beside the US sets)
``[[plans]]``    (at least one) a member: name, ages, balance, salary, contributions,
                 fees, withdrawal rule, success definition, and optionally the
                 ``strategy`` the member holds today and a ``pension_target``
                 (defined-benefit style: accrual_rate or replacement_rate) whose
                 funded ratio at retirement is reported beside success
``[strategies]`` presets (names from ``glidelab strategies``), crypto_sleeves
                 (decimals, e.g. 0.025), crypto_base (preset the sleeves sit on),
                 custom (glide paths drawn by hand, e.g. in ``glidelab serve``: a list
                 of { name, years_to_retirement, equity, cash, crypto_sleeve, rebalance,
                 rebalance_every_months, rebalance_band }; equity shares are decimals at
                 knots in years to retirement, the rest is in bonds)
``[optimize]``   enabled, plan (a plan name), n_scenarios, holdout_n, max_iterations,
                 constraints (monotone_equity, max_change_per_year, crypto_cap),
                 adaptive (bool: with enabled, also solve the adaptive glide path, by
                 age and wealth, of every plan in adaptive_plans, default every plan),
                 objective ("success" | "ce": what the glide-path search maximises),
                 adaptive_objective ("ce", the default, | "success"), and
                 [optimize.preferences]: gamma, loss_aversion, reference_replacement,
                 bequest_weight, bequest_shifter, discount_rate
                 (``backtest.outcomes.IncomePreferences``) and income_floor (real USD a
                 year kept when the account is empty)
``[analysis]``   withdrawal_rates and equity_shares for the success heatmap
``[output]``     dir (default "results"), tearsheet (bool), population (bool: a small fund-design
                 section of the shipped target_date_2060 vintage, default true)
``[compute]``    where the scenario evaluation runs (``glidelab run``, ``sweep``): workers
                 (a Dask LocalCluster of N processes on 127.0.0.1), scheduler
                 ("tcp://HOST:PORT", a running cluster), threads_per_worker (default 1);
                 neither: in this process (the default, no service)

Sections (``glidelab run`` runs each one a file has):

``[crypto]``     the crypto-sleeve research (:class:`CryptoConfig`; ``glidelab.crypto``)
``[sweep]``      a grid of plan/strategy settings and solve-for (:class:`Sweep`;
                 ``glidelab.sweep``)

A fund-design file has no ``[[plans]]``: top-level name, description, seed, and
``[population]`` (fields of ``backtest.population.PopulationSpec``), ``[design]``
(:class:`DesignSettings`, with ``[design.constraints]`` from
``optimize.fund_design.FundConstraints``) and ``[evaluation]``
(:class:`EvaluationSettings`); ``glidelab.design`` runs it.

Amounts are real USD of the start date per year; rates are decimals (0.04 = 4 %).

The schema is written in :mod:`glidelab.studyfile`, one module per job (the table reader,
``[compute]``, ``[[plans]]``, the ordinary study, ``[crypto]``, ``[sweep]``, fund design,
and the file reader); this module is its public face and re-exports every name, so
``from glidelab.study import X`` is the one import an importer needs.
"""

from __future__ import annotations

from glidelab.studyfile.compute import COMPUTE_KEYS, ComputeConfig, parse_compute
from glidelab.studyfile.core import (
    REBALANCE_RULES,
    SCHEMA,
    SEARCH_OBJECTIVES,
    AnalysisConfig,
    CustomGlidePath,
    DataConfig,
    OptimizeConfig,
    OutputConfig,
    ScenarioConfig,
    SearchObjective,
    StrategyConfig,
    Study,
    parse_study,
    quick_study,
)
from glidelab.studyfile.crypto import (
    CentralConfig,
    CryptoConfig,
    DisclosureConfig,
    StressConfig,
    VintageConfig,
    WindowConfig,
    parse_crypto,
    quick_crypto,
)
from glidelab.studyfile.design import (
    ALL_ASSETS,
    DEFAULT_PRESETS,
    DESIGN_TABLES,
    DesignSettings,
    DesignStudy,
    EvaluationSettings,
    parse_design_study,
    quick_design,
)
from glidelab.studyfile.files import (
    SECTIONS,
    StudyFile,
    load_study,
    parse_study_file,
    parse_sweep,
    read_study_toml,
    shipped_studies,
    shipped_study_path,
    study_path,
)
from glidelab.studyfile.plans import (
    PLAN_KEYS,
    SUCCESS_RULES,
    WITHDRAWAL_RULES,
    Mortality,
    PlanConfig,
    read_plans,
)
from glidelab.studyfile.sweep import (
    FIELDS,
    PLAN_FIELDS,
    SET_KINDS,
    Axis,
    SolveSpec,
    Sweep,
    check_sweep_field,
    parse_sweep_table,
    quick_sweep,
)
from glidelab.studyfile.tables import Table, check_keys, defaults, not_allowed, unknown_key

__all__ = [
    "ALL_ASSETS",
    "COMPUTE_KEYS",
    "DEFAULT_PRESETS",
    "DESIGN_TABLES",
    "FIELDS",
    "PLAN_FIELDS",
    "PLAN_KEYS",
    "REBALANCE_RULES",
    "SCHEMA",
    "SEARCH_OBJECTIVES",
    "SECTIONS",
    "SET_KINDS",
    "SUCCESS_RULES",
    "WITHDRAWAL_RULES",
    "AnalysisConfig",
    "Axis",
    "CentralConfig",
    "ComputeConfig",
    "CryptoConfig",
    "CustomGlidePath",
    "DataConfig",
    "DesignSettings",
    "DesignStudy",
    "DisclosureConfig",
    "EvaluationSettings",
    "Mortality",
    "OptimizeConfig",
    "OutputConfig",
    "PlanConfig",
    "ScenarioConfig",
    "SearchObjective",
    "SolveSpec",
    "StrategyConfig",
    "StressConfig",
    "Study",
    "StudyFile",
    "Sweep",
    "Table",
    "VintageConfig",
    "WindowConfig",
    "check_keys",
    "check_sweep_field",
    "defaults",
    "load_study",
    "not_allowed",
    "parse_compute",
    "parse_crypto",
    "parse_design_study",
    "parse_study",
    "parse_study_file",
    "parse_sweep",
    "parse_sweep_table",
    "quick_crypto",
    "quick_design",
    "quick_study",
    "quick_sweep",
    "read_plans",
    "read_study_toml",
    "shipped_studies",
    "shipped_study_path",
    "study_path",
    "unknown_key",
]

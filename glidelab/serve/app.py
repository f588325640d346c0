"""The page: one :class:`Workbench` per browser session.

Every edit makes a new :class:`~glidelab.serve.state.View`, validates it with the study
schema (an error shows under the field it names and the last good numbers stay, marked
stale) and recomputes through :func:`glidelab.serve.compute.evaluate`. Up to
``compute.CHUNK`` scenarios are computed at once in the event loop (tens of
milliseconds); more run in a thread with progress and a cancel button, and the
optimiser, the adaptive policy, the fund-design frontier and the tear sheet run in a child
process (``glidelab.serve.jobs``), so the page never freezes.
"""

from __future__ import annotations

import functools
import html
import io
import json
import logging
import re
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import panel as pn
from bokeh.models import (
    ColumnDataSource,
    CustomJS,
    HoverTool,
    NumeralTickFormatter,
    PointDrawTool,
    Range1d,
)
from bokeh.plotting import figure

from backtest.errors import GlidelabError
from glidelab.run import strategies_for
from glidelab.serve import jobs
from glidelab.serve.compute import CHUNK, Cancelled, Outcome, evaluate
from glidelab.serve.state import (
    MEMBER_NUMBERS,
    SCENARIO_KINDS,
    View,
    drawable_presets,
    from_preset,
    initial_view,
    to_raw,
    to_study,
    to_toml,
)
from strategies.base import Schedule
from strategies.presets import PRESETS

if TYPE_CHECKING:
    from bokeh.models.sources import DataDict  # a stub-only alias

log = logging.getLogger("glidelab.serve")

#: Withdrawal rules offered (the schema's names).
WITHDRAWAL_RULES = ("constant_real", "fixed_percent", "guyton_klinger", "rmd", "none")

_CSS = """
.gl-error { color: #b00020; font-size: 12px; min-height: 0; }
.gl-num { font-size: 26px; font-weight: 600; }
.gl-stale { opacity: 0.45; }
table.gl-res td { padding: 2px 10px 2px 0; }
"""

# Keeps a dragged knot inside the chart's box while it is dragged (the server snaps and
# clips it again on drop): equity shares outside [0, 1] cannot be drawn.
_CLAMP_JS = """
const d = source.data; let changed = false;
for (let i = 0; i < d.y.length; i++) {
  const c = d.cash && Number.isFinite(d.cash[i]) ? d.cash[i] : 0;
  const y = Math.min(1 - c, Math.max(0, d.y[i]));
  const x = Math.min(hi, Math.max(lo, d.x[i]));
  if (y !== d.y[i] || x !== d.x[i]) { d.y[i] = y; d.x[i] = x; changed = true; }
}
if (changed) { source.change.emit(); }
"""


def _pct(x: float, digits: int = 2) -> str:
    return f"{100 * x:.{digits}f}&nbsp;%"


def _usd(x: float) -> str:
    return f"{x:,.0f}"


class Workbench:
    """One session's page and state."""

    def __init__(self, template: dict[str, Any], out_root: Path) -> None:
        self.out_root = out_root
        self.view: View = initial_view(template)
        self.good: View = self.view
        self.outcome: Outcome | None = None
        self.doc = pn.state.curdoc
        self._syncing = False
        self._cancel = threading.Event()
        self._job: jobs.Job | None = None
        self._poller: Any = None
        self._optimised: tuple[tuple[float, ...], tuple[float, ...]] | None = None
        self._build()
        if self.doc is not None:  # a closed tab stops its jobs and its worker
            pn.state.on_session_destroyed(lambda _ctx: self._shutdown())
        self._apply(self.view, None)

    # ---------------------------------------------------------------- widgets

    @staticmethod
    def _knot_data(v: View) -> DataDict:
        data: DataDict = {"x": list(v.ages), "y": list(v.equity)}
        if v.cash:
            data["cash"] = list(v.cash)
        return data

    def _error(self) -> pn.pane.HTML:
        return pn.pane.HTML("", css_classes=["gl-error"], margin=(0, 10))

    def _build(self) -> None:
        """Make every widget and chart of the page and lay them out in three columns."""
        self.errors: dict[str, pn.pane.HTML] = {}
        self.inputs: dict[str, Any] = {}
        member_rows = self._member_inputs()
        self._spending_widgets()
        self._strategy_widgets()
        self._scenario_widgets()
        self._action_widgets()
        self._charts()
        self.layout = pn.Column(
            pn.pane.HTML(
                "<h2 style='margin:4px 0'>glidelab workbench</h2><div>Draw a glide path and "
                "watch the member's odds move. Amounts are real USD of the start date; "
                "rates are decimals (0.04 = 4 %).</div>"
            ),
            pn.Row(self._member_panel(member_rows), self._strategy_panel(), self._results_panel()),
            stylesheets=[_CSS],
        )

    def _member_inputs(self) -> list[pn.Column]:
        """One number field (with its error line) per member number; returns their rows."""
        m = self.view.member
        member_rows = []
        for key, label in MEMBER_NUMBERS.items():
            w = pn.widgets.FloatInput(label=label, value=m.get(key), width=220)
            w.param.watch(functools.partial(self._on_member, key), "value")
            self.inputs[key] = w
            self.errors[key] = self._error()
            member_rows.append(pn.Column(w, self.errors[key], margin=0))
        return member_rows

    def _spending_widgets(self) -> None:
        """The spending rule, its amount or rate, and what success means."""
        m = self.view.member
        wd = m.get("withdrawal", {})
        self.w_rule = pn.widgets.Select(
            width=220,
            label="spending rule",
            options=list(WITHDRAWAL_RULES),
            value=wd.get("rule", "none"),
        )
        self.w_amount = pn.widgets.FloatInput(
            width=220, label="spending (USD a year, real; constant_real)", value=wd.get("amount")
        )
        self.w_rate = pn.widgets.FloatInput(
            width=220, label="spending rate (decimal of the balance)", value=wd.get("rate")
        )
        sc = m.get("success", {})
        self.s_kind = pn.widgets.Select(
            width=220,
            label="success means",
            options={
                "the money lasts to the end age": "money_lasts",
                "a funded pension": "funded_ratio",
            },
            value=sc.get("kind", "money_lasts"),
        )
        self.s_repl = pn.widgets.FloatInput(
            width=220,
            label="target pension (decimal of final salary; funded_ratio)",
            value=sc.get("replacement_rate", 0.7 if sc.get("accrual_rate") is None else None),
        )
        for w in (self.w_rule, self.w_amount, self.w_rate, self.s_kind, self.s_repl):
            w.param.watch(self._on_spending, "value")
        for key in ("withdrawal", "amount", "rate", "success", "replacement_rate"):
            self.errors[key] = self._error()

    def _strategy_widgets(self) -> None:
        """The preset picker, the knot buttons, the Bitcoin sleeve and the rebalancing rule."""
        v = self.view
        self.preset = pn.widgets.Select(
            width=230,
            label="start from preset",
            options=["(drawn)", *drawable_presets()],
            value="(drawn)",
        )
        self.preset.param.watch(self._on_preset, "value")
        self.add_knot = pn.widgets.Button(label="add knot", width=100)
        self.remove_knot = pn.widgets.Button(label="remove selected knot", width=170)
        self.add_knot.on_click(self._on_add)
        self.remove_knot.on_click(self._on_remove)
        self.sleeve = pn.widgets.FloatSlider(
            label="Bitcoin sleeve (share of the portfolio)",
            start=0.0,
            end=0.10,
            step=0.005,
            value=v.sleeve,
            format="0.0[0]%",
        )
        self.before = pn.widgets.Select(
            width=200,
            label="Bitcoin before its data (2010)",
            options={"earns T-bills (cash)": "cash", "lognormal proxy": "proxy"},
            value=v.before_data,
        )
        self.proxy_mean = pn.widgets.FloatInput(
            width=200, label="Bitcoin log mean (a year)", value=v.proxy[0]
        )
        self.proxy_vol = pn.widgets.FloatInput(
            width=200, label="Bitcoin log volatility (a year)", value=v.proxy[1]
        )
        self.rebalance = pn.widgets.Select(
            width=200,
            label="rebalancing",
            options={"calendar": "calendar", "band (drift)": "band", "none (buy and hold)": "none"},
            value=v.rebalance,
        )
        self.every = pn.widgets.IntInput(
            width=200, label="every (months; calendar)", value=v.rebalance_every_months
        )
        self.band = pn.widgets.FloatInput(
            width=200, label="band (decimal; band)", value=v.rebalance_band
        )
        for w in (
            self.sleeve,
            self.before,
            self.proxy_mean,
            self.proxy_vol,
            self.rebalance,
            self.every,
            self.band,
        ):
            w.param.watch(self._on_strategy, "value")
        for key in (
            "crypto_sleeve",
            "mean_log_annual",
            "vol_log_annual",
            "rebalance_every_months",
            "rebalance_band",
            "knots",
        ):
            self.errors[key] = self._error()

    def _scenario_widgets(self) -> None:
        """The scenario kind, count, seed and baseline, and the optional heavy overlays."""
        v = self.view
        self.kind = pn.widgets.Select(
            width=200, label="scenarios", options=list(SCENARIO_KINDS), value=v.scenarios
        )
        self.count = pn.widgets.IntInput(
            width=200, label="scenarios (bootstrap, parametric)", value=v.n_scenarios
        )
        self.seed = pn.widgets.IntInput(width=200, label="seed", value=v.seed)
        self.baseline = pn.widgets.Select(
            width=200, label="baseline (same scenarios)", options=list(PRESETS), value=v.baseline
        )
        for w in (self.kind, self.count, self.seed, self.baseline):
            w.param.watch(self._on_scenarios, "value")
        for key in ("bootstrap_n", "seed", "baseline"):
            self.errors[key] = self._error()
        self.errors["parametric_n"] = self.errors["bootstrap_n"]  # the same count field
        self.opt = pn.widgets.Checkbox(label="overlay the optimised path (runs the optimiser)")
        self.opt.param.watch(self._on_optimise, "value")
        self.adapt = pn.widgets.Checkbox(label="adaptive policy map (runs the DP solver)")
        self.adapt.param.watch(self._on_adaptive, "value")
        self.policy_map = pn.pane.PNG(None, width=620, visible=False)
        self.adaptive_note = pn.pane.HTML("", sizing_mode="stretch_width")
        self.front = pn.widgets.Checkbox(
            label="fund-design frontier, 2060 vintage (runs the design)"
        )
        self.front.param.watch(self._on_frontier, "value")
        self.frontier_map = pn.pane.PNG(None, width=620, visible=False)
        self.frontier_note = pn.pane.HTML("", sizing_mode="stretch_width")

    def _action_widgets(self) -> None:
        """Save, tear sheet and cancel buttons; progress, status, error and results panes."""
        self.save = pn.widgets.FileDownload(
            callback=self._toml,
            filename="glidelab-view.toml",
            label="save study (TOML)",
            color="primary",
            width=200,
        )
        self.sheet = pn.widgets.Button(label="tear sheet (HTML + PDF)", width=200)
        self.sheet.on_click(self._on_tearsheet)
        self.cancel = pn.widgets.Button(label="cancel", color="warning", width=90, disabled=True)
        self.cancel.on_click(self._on_cancel)
        self.progress = pn.indicators.Progress(
            label="progress", value=0, max=100, width=260, visible=False
        )
        self.status = pn.pane.HTML("", css_classes=["gl-status"], sizing_mode="stretch_width")
        self.general = self._error()
        self.results = pn.pane.HTML("", sizing_mode="stretch_width")

    def _member_panel(self, member_rows: list[pn.Column]) -> pn.Column:
        """The left column: the member's numbers, spending rule and success definition."""
        return pn.Column(
            "### The member",
            *member_rows,
            self.w_rule,
            self.errors["withdrawal"],
            self.w_amount,
            self.errors["amount"],
            self.w_rate,
            self.errors["rate"],
            self.s_kind,
            self.errors["success"],
            self.s_repl,
            self.errors["replacement_rate"],
            width=250,
        )

    def _strategy_panel(self) -> pn.Column:
        """The middle column: the glide-path chart and its settings, then the scenarios."""
        return pn.Column(
            "### The strategy",
            "Drag a knot; click empty space to add one; click a knot and press Backspace "
            "(or the button) to remove it. Knots snap to whole years and whole percent.",
            pn.Row(self.preset, self.add_knot, self.remove_knot),
            self.path_pane,
            self.errors["knots"],
            self.knot_table,
            pn.Row(pn.Column(self.sleeve, self.errors["crypto_sleeve"]), self.before),
            pn.Row(
                pn.Column(self.proxy_mean, self.errors["mean_log_annual"]),
                pn.Column(self.proxy_vol, self.errors["vol_log_annual"]),
            ),
            pn.Row(
                self.rebalance,
                pn.Column(self.every, self.errors["rebalance_every_months"]),
                pn.Column(self.band, self.errors["rebalance_band"]),
            ),
            "### The scenarios",
            pn.Row(
                self.kind,
                pn.Column(self.count, self.errors["bootstrap_n"]),
                pn.Column(self.seed, self.errors["seed"]),
            ),
            pn.Row(
                pn.Column(self.baseline, self.errors["baseline"]),
                pn.Column(self.opt, self.adapt, self.front),
            ),
            width=680,
        )

    def _results_panel(self) -> pn.Column:
        """The right column: numbers, progress, fan and cohort charts, maps, save buttons."""
        return pn.Column(
            "### Results",
            self.general,
            self.results,
            pn.Row(self.progress, self.cancel),
            self.status,
            self.fan_pane,
            self.cohort_pane,
            self.adaptive_note,
            self.policy_map,
            self.frontier_note,
            self.frontier_map,
            pn.Row(self.save, self.sheet),
            width=640,
        )

    def _charts(self) -> None:
        """The three charts: the drawable glide path, the wealth fan and the cohort bars."""
        self._path_chart()
        self._fan_chart()
        self._cohort_chart()

    def _path_chart(self) -> None:
        """The glide-path chart: draggable knots (clamped to the box), the drawn, baseline,
        optimised and cash lines, and the knot table under it."""
        start, _, end = self._ages()
        self.knots = ColumnDataSource(data=self._knot_data(self.view))
        self.cash_src = ColumnDataSource(data={"x": [], "y": []})
        self.path_src = ColumnDataSource(data={"x": [], "y": []})
        self.base_src = ColumnDataSource(data={"x": [], "y": []})
        self.opt_src = ColumnDataSource(data={"x": [], "y": []})
        p = figure(
            height=300,
            width=660,
            x_range=Range1d(start=start - 1, end=end + 1),
            y_range=Range1d(start=-0.03, end=1.03),
            tools="",
            toolbar_location="above",
            x_axis_label="age",
            y_axis_label="equity share",
        )
        # bokeh types the splat of y axes' formatters as the base TickFormatter
        p.yaxis.formatter.use_scientific = False  # type: ignore[attr-defined]
        p.line(
            "x",
            "y",
            source=self.base_src,
            color="#888888",
            line_dash="dashed",
            legend_label="baseline",
        )
        p.line(
            "x", "y", source=self.opt_src, color="#e67e22", line_width=2, legend_label="optimised"
        )
        p.line("x", "y", source=self.path_src, color="#1f4e79", line_width=3, legend_label="drawn")
        pts = p.scatter("x", "y", source=self.knots, size=14, color="#1f4e79", line_color="white")
        p.line(
            "x", "y", source=self.cash_src, color="#6a8d3a", line_dash="dotted", legend_label="cash"
        )
        # A knot added by a click has no cash share yet (NaN): the server interpolates it.
        # bokeh's GlyphRenderer[T] is invariant in its stubs: a Scatter renderer is refused
        tool = PointDrawTool(renderers=[pts], add=True, empty_value=float("nan"))  # type: ignore[list-item]
        p.add_tools(
            tool, HoverTool(renderers=[pts], tooltips=[("age", "@x"), ("equity", "@y{0%}")])
        )
        p.toolbar.active_tap = tool
        p.toolbar.active_drag = tool
        p.legend.location = "top_right"
        self.clamp = CustomJS(args={"source": self.knots, "lo": start, "hi": end}, code=_CLAMP_JS)
        self.knots.js_on_change("data", self.clamp)
        self.knots.on_change("data", self._on_knots)
        self.path_fig = p
        self.path_pane = pn.pane.Bokeh(p)
        self.knot_table = pn.pane.HTML("", css_classes=["gl-knots"])

    def _fan_chart(self) -> None:
        """The wealth fan: 10-90 and 25-75 percentile bands and the median, real USD by age."""
        self.fan_src = ColumnDataSource(
            data={k: [] for k in ("age", "p10", "p25", "p50", "p75", "p90")}
        )
        f = figure(
            height=230,
            width=620,
            tools="",
            toolbar_location=None,
            x_axis_label="age",
            y_axis_label="wealth (real USD)",
            title="Wealth by age: 10-90 and 25-75 percentile bands, median",
        )
        f.varea("age", "p10", "p90", source=self.fan_src, color="#9ecae1", alpha=0.5)
        f.varea("age", "p25", "p75", source=self.fan_src, color="#4292c6", alpha=0.5)
        f.line("age", "p50", source=self.fan_src, color="#08306b", line_width=2)
        f.yaxis.formatter = NumeralTickFormatter(format="0.0a")  # 1.5m = 1,500,000 USD
        self.fan_pane = pn.pane.Bokeh(f)

    def _cohort_chart(self) -> None:
        """The historical cohorts' bars: the age each cohort's money lasted to, red if ruined."""
        self.cohort_src = ColumnDataSource(data={"year": [], "top": [], "color": [], "what": []})
        c = figure(
            height=210,
            width=620,
            tools="",
            toolbar_location=None,
            x_axis_label="cohort's first year",
            y_axis_label="age the money lasted to",
            title="Historical cohorts: red = the money ran out",
        )
        c.vbar(x="year", top="top", width=0.8, color="color", source=self.cohort_src)
        c.add_tools(HoverTool(tooltips=[("cohort", "@year"), ("", "@what")]))
        self.cohort_fig = c
        self.cohort_pane = pn.pane.Bokeh(c)

    # ---------------------------------------------------------------- helpers

    def _ages(self) -> tuple[float, float, float]:
        m = self.view.member

        def num(key: str, default: float) -> float:
            x = m.get(key)
            return float(x) if isinstance(x, int | float) and np.isfinite(x) else default

        return num("start_age", 25), num("retirement_age", 65), num("end_age", 95)

    def _toml(self) -> io.StringIO:
        self.save.filename = f"{self.good.member.get('name', 'view')}-view.toml"
        return io.StringIO(to_toml(self.good))

    def _clear_errors(self) -> None:
        for pane in self.errors.values():
            pane.object = ""
        self.general.object = ""

    def _show_error(self, message: str, edited: str | None) -> None:
        """Show the schema's message under the field it names (the edited one first)."""
        text = html.escape(message)
        named = [k for k in self.errors if re.search(rf"\b{re.escape(k)}\b", message)]
        if "years_to_retirement" in message or ("[strategies].custom" in message and not named):
            named = ["knots"]
        if edited in named:
            self.errors[edited].object = text
        elif named:
            self.errors[named[0]].object = text
        else:
            self.general.object = text

    def _after(self, fn: Any, *args: Any) -> None:
        """Run ``fn(*args)`` on the session's event loop (from a worker thread)."""
        if self.doc is not None:
            self.doc.add_next_tick_callback(functools.partial(fn, *args))

    # ---------------------------------------------------------------- events

    def _on_member(self, key: str, event: Any) -> None:
        value = event.new
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        self._apply(self.view.with_member(key, value), key)

    def _on_spending(self, event: Any) -> None:
        rule = self.w_rule.value
        wd: dict[str, Any] = {
            "rule": rule,
            "timing": self.view.member.get("withdrawal", {}).get("timing", "start"),
        }
        if rule == "constant_real" and self.w_amount.value is not None:
            wd["amount"] = self.w_amount.value
        elif rule not in ("none",) and self.w_rate.value is not None:
            wd["rate"] = self.w_rate.value
        if rule == "none":
            wd.pop("timing")
        success: dict[str, Any] = {"kind": self.s_kind.value}
        if self.s_kind.value == "funded_ratio":
            success["replacement_rate"] = self.s_repl.value
        view = self.view.with_member("withdrawal", wd).with_member("success", success)
        edited = {
            self.w_amount: "amount",
            self.w_rate: "rate",
            self.s_repl: "replacement_rate",
        }.get(event.obj)
        self._apply(view, edited)

    def _on_strategy(self, event: Any) -> None:
        edited = {
            self.sleeve: "crypto_sleeve",
            self.proxy_mean: "mean_log_annual",
            self.proxy_vol: "vol_log_annual",
            self.every: "rebalance_every_months",
            self.band: "rebalance_band",
        }.get(event.obj)
        view = replace(
            self.view,
            # a slider always holds a number; panel declares every slider value allow_None
            sleeve=float(self.sleeve.value),  # type: ignore[arg-type]
            before_data=self.before.value,
            proxy=(self.proxy_mean.value, self.proxy_vol.value),
            rebalance=self.rebalance.value,
            rebalance_every_months=self.every.value,
            rebalance_band=self.band.value,
        )
        self._apply(view, edited)

    def _on_scenarios(self, event: Any) -> None:
        edited = {self.count: "bootstrap_n", self.seed: "seed", self.baseline: "baseline"}.get(
            event.obj
        )
        view = replace(
            self.view,
            scenarios=self.kind.value,
            n_scenarios=self.count.value,
            seed=self.seed.value,
            baseline=self.baseline.value,
        )
        self._apply(view, edited)

    def _on_preset(self, event: Any) -> None:
        if event.new == "(drawn)":
            return
        try:
            view = from_preset(self.view, event.new)
        except GlidelabError as exc:
            self.errors["knots"].object = html.escape(str(exc))
            return
        self._sync_widgets(view)
        self._apply(view, "knots")

    def _sync_widgets(self, view: View) -> None:
        """Show a view's strategy settings in the widgets without re-triggering edits."""
        self._syncing = True
        try:
            self.rebalance.value = view.rebalance
            self.every.value = view.rebalance_every_months
            self.band.value = view.rebalance_band
        finally:
            self._syncing = False

    def _on_knots(self, attr: str, old: Any, new: Any) -> None:
        if self._syncing:
            return
        xs = [_finite(x) for x in new.get("x", [])]
        ys = [_finite(y, 0.5) for y in new.get("y", [])]
        cs = [_finite(c) for c in new.get("cash", [float("nan")] * len(xs))]
        self._set_preset_label("(drawn)")
        self._apply(self._snapped(xs, ys, cs), "knots")

    def _snapped(self, xs: list[float], ys: list[float], cs: list[float]) -> View:
        """The view with these knots, snapped to whole years and whole percent inside the
        plan's ages, equity in [0, 1 - cash]. A knot dropped on another's age replaces it
        (the later one in the list wins); a new knot's cash share is interpolated."""
        start, _, end = self._ages()
        rows: dict[float, tuple[float, float]] = {}
        for x, y, c in zip(xs, ys, cs, strict=False):
            if np.isfinite(x):
                rows[float(min(max(round(x), start), end))] = (y, c)
        ages = tuple(sorted(rows))
        cash: tuple[float, ...] = ()
        if self.view.cash:
            ka = [a for a in ages if np.isfinite(rows[a][1])]
            kc = [rows[a][1] for a in ka]

            def share(a: float) -> float:
                c = rows[a][1]
                if np.isfinite(c):
                    return min(max(c, 0.0), 1.0)
                return round(float(np.interp(a, ka, kc)), 2) if ka else 0.0

            cash = tuple(share(a) for a in ages)
        top = cash or (0.0,) * len(ages)
        equity = tuple(
            round(min(max(rows[a][0], 0.0), 1.0 - k), 2) for a, k in zip(ages, top, strict=True)
        )
        return replace(self.view, ages=ages, equity=equity, cash=cash)

    def _set_preset_label(self, value: str) -> None:
        if self.preset.value != value:
            self._syncing = True
            try:
                self.preset.param.update(value=value)
            finally:
                self._syncing = False

    def _on_add(self, event: Any) -> None:
        start, _, end = self._ages()
        ages = [start, *self.view.ages, end]
        gaps = np.diff(ages)
        i = int(np.argmax(gaps))
        if gaps[i] < 2:
            self.errors["knots"].object = "no room for another knot (one per whole year)"
            return
        age = float(round((ages[i] + ages[i + 1]) / 2))
        v = self.view
        eq = float(np.interp(age, v.ages, v.equity)) if v.ages else 0.5
        cash = list(v.cash) if v.cash else [float("nan")] * len(v.ages)
        self._apply(self._snapped([*v.ages, age], [*v.equity, eq], [*cash, float("nan")]), "knots")

    def _on_remove(self, event: Any) -> None:
        idx = set(self.knots.selected.indices)
        if not idx:
            self.errors["knots"].object = "click a knot first to select it"
            return
        keep = [i for i in range(len(self.view.ages)) if i not in idx]
        view = replace(
            self.view,
            ages=tuple(self.view.ages[i] for i in keep),
            equity=tuple(self.view.equity[i] for i in keep),
            cash=tuple(self.view.cash[i] for i in keep) if self.view.cash else (),
        )
        self.knots.selected.indices = []
        self._apply(view, "knots")

    # ---------------------------------------------------------------- recompute

    def _apply(self, view: View, edited: str | None) -> None:
        """Validate ``view`` with the study schema; recompute when it is valid."""
        if self._syncing:
            return
        self.view = view
        self._draw_path()
        self._clear_errors()
        try:
            study = to_study(view)
        except GlidelabError as exc:
            self._show_error(str(exc), edited)
            self.results.css_classes = ["gl-stale"]
            return
        self.good = view
        self._cancel.set()
        self._cancel = threading.Event()
        n = view.n_scenarios  # checked by the schema unless the set is the historical one
        if view.scenarios != "historical cohorts" and n is not None and n > CHUNK:
            self._busy(f"simulating {view.n_scenarios:,} scenarios", indeterminate=True)
            threading.Thread(
                target=self._compute_in_thread, args=(study, view, self._cancel), daemon=True
            ).start()
            return
        try:
            outcome = evaluate(study, view.scenarios)
        except GlidelabError as exc:
            self.general.object = html.escape(str(exc))
            self.results.css_classes = ["gl-stale"]
            return
        self._show(outcome, view)
        self._baseline_line(study)

    def _compute_in_thread(self, study: Any, view: View, cancel: threading.Event) -> None:
        try:
            outcome = evaluate(
                study,
                view.scenarios,
                progress=lambda x: self._after(self._set_progress, x),
                cancel=cancel,
            )
        except Cancelled:
            return
        except GlidelabError as exc:
            self._after(self._fail, str(exc))
            return
        if not cancel.is_set():
            self._after(self._show, outcome, view)

    def _fail(self, message: str) -> None:
        self._idle()
        self.general.object = html.escape(message)

    def _busy(self, what: str, indeterminate: bool = False) -> None:
        self.progress.visible = True
        self.progress.value = -1 if indeterminate else 0
        self.cancel.disabled = False
        self.status.object = html.escape(what) + " ..."

    def _idle(self) -> None:
        self.progress.visible = False
        self.cancel.disabled = self._job is None

    def _set_progress(self, share: float) -> None:
        self.progress.value = int(100 * share)

    def _shutdown(self) -> None:
        self._cancel.set()
        if self._job is not None:
            self._job.cancel()
            self._job = None

    def _on_cancel(self, event: Any) -> None:
        self._cancel.set()
        if self._job is not None:
            name = self._job.name
            self._job.cancel()
            self._end_job(f"{name} cancelled")
            box = {"optimise": self.opt, "adaptive": self.adapt, "frontier": self.front}.get(name)
            if box is not None and box.value:
                box.value = False  # its handler takes the request out of the view
        self._idle()
        self.status.object = "cancelled"

    def _draw_path(self) -> None:
        v = self.view
        start, retire, end = self._ages()
        self._syncing = True
        try:
            data = self._knot_data(v)
            if any(list(self.knots.data.get(k, [])) != data[k] for k in data) or len(
                self.knots.data
            ) != len(data):
                self.knots.data = data
        finally:
            self._syncing = False
        x_range = cast(Range1d, self.path_fig.x_range)  # made a Range1d in _path_chart
        x_range.start, x_range.end = start - 1, end + 1
        self.clamp.args = {"source": self.knots, "lo": start, "hi": end}
        if v.ages:
            xs = [start, *v.ages, end]
            ys = [v.equity[0], *v.equity, v.equity[-1]]
            self.path_src.data = {"x": xs, "y": ys}
        else:
            self.path_src.data = {"x": [], "y": []}
        if v.cash:
            self.cash_src.data = {"x": [start, *v.ages, end], "y": [v.cash[0], *v.cash, v.cash[-1]]}
        else:
            self.cash_src.data = {"x": [], "y": []}
        if self._optimised is not None:
            ytr, eq = self._optimised
            ages = sorted(zip((retire - y for y in ytr), eq, strict=True))
            xs = [start] + [a for a, _ in ages] + [end]
            ys = [ages[0][1]] + [e for _, e in ages] + [ages[-1][1]]
            self.opt_src.data = {"x": xs, "y": ys}
        else:
            self.opt_src.data = {"x": [], "y": []}
        knots = json.dumps([[a, e] for a, e in zip(v.ages, v.equity, strict=True)])
        cash = v.cash or (0.0,) * len(v.ages)
        rows = "".join(
            f"<td>{a:g}: {100 * e:.0f}&nbsp;%"
            + (f" (cash {100 * c:.0f}&nbsp;%)" if v.cash else "")
            + "</td>"
            for a, e, c in zip(v.ages, v.equity, cash, strict=True)
        )
        self.knot_table.object = f"<table class='gl-knots' id='gl-knots' data-knots='{knots}'><tr><td>knots (age: equity)</td>{rows}</tr></table>"

    def _baseline_line(self, study: Any) -> None:
        """The baseline's equity share by age (static presets only)."""
        start, retire, end = self._ages()
        strat = strategies_for(study)[self.good.baseline]
        if strat.depends_on_returns:
            self.base_src.data = {"x": [], "y": []}
            return
        sched = Schedule.from_ages(start, end, retire, 1)
        past = np.zeros((1, sched.n_periods, len(strat.assets)))
        w = np.asarray(strat.target_weights(sched, past))[0]
        self.base_src.data = {"x": [*sched.age_start, end], "y": [*w[:, 0], w[-1, 0]]}

    def _show(self, o: Outcome, view: View) -> None:
        self._idle()
        self.status.object = (
            f"computed in {1000 * o.seconds:.0f} ms" if self._job is None else self.status.object
        )
        self.outcome = o
        self.results.css_classes = []
        knots = json.dumps([[a, e] for a, e in zip(view.ages, view.equity, strict=True)])
        opt = ""
        if self._optimised_note:
            opt = f"<tr><td>optimised path</td><td colspan=2>{self._optimised_note}</td></tr>"
        self.results.object = (
            "<table class='gl-res'>"
            f"<tr><td>probability of success</td><td class='gl-num'><span id='gl-success' "
            f"data-value='{o.success!r}' data-knots='{knots}'>{_pct(o.success)}</span></td>"
            f"<td>&plusmn; <span id='gl-success-se' data-value='{o.success_se!r}'>"
            f"{_pct(o.success_se)}</span> (standard error)</td></tr>"
            f"<tr><td>baseline: {html.escape(o.baseline)}</td><td><span id='gl-baseline' "
            f"data-value='{o.baseline_success!r}'>{_pct(o.baseline_success)}</span></td><td></td></tr>"
            f"<tr><td>paired difference</td><td><span id='gl-difference' data-value='{o.difference!r}'>"
            f"{100 * o.difference:+.2f}</span> points</td><td>&plusmn; {100 * o.difference_se:.2f} "
            "(standard error, same scenarios)</td></tr>"
            f"<tr><td>terminal wealth, median</td><td><span id='gl-p50'>{_usd(o.terminal_p50)}</span>"
            "</td><td>real USD</td></tr>"
            f"<tr><td>terminal wealth, 10th percentile</td><td><span id='gl-p10'>"
            f"{_usd(o.terminal_p10)}</span></td><td>real USD</td></tr>"
            f"<tr><td>scenarios</td><td><span id='gl-n'>{o.n_scenarios:,}</span></td>"
            f"<td>{html.escape(o.scenario_set)}, seed {view.seed}</td></tr>{opt}</table>"
        )
        self.fan_src.data = {
            "age": list(o.fan_ages),
            **{f"p{p}": list(o.fan[i]) for i, p in enumerate((10, 25, 50, 75, 90))},
        }
        years = [int(lab[:4]) for lab in o.cohort_labels]
        _, _, end = self._ages()
        tops = [
            end if s else float(a) for s, a in zip(o.cohort_success, o.cohort_ruin_age, strict=True)
        ]
        self.cohort_src.data = {
            "year": years,
            "top": tops,
            "color": ["#2e7d32" if s else "#c62828" for s in o.cohort_success],
            "what": [
                "lasted" if s else f"ran out at {a:g}"
                for s, a in zip(o.cohort_success, o.cohort_ruin_age, strict=True)
            ],
        }
        fails = [y for y, s in zip(years, o.cohort_success, strict=True) if not s]
        # bokeh types figure.title as what it accepts (a str too); it reads back a Title
        self.cohort_fig.title.text = (  # type: ignore[union-attr]
            f"Historical cohorts: {len(fails)} of {len(years)} ran out of money"
            + (
                f" (first years {', '.join(map(str, fails[:12]))}{' ...' if len(fails) > 12 else ''})"
                if fails
                else ""
            )
        )

    _optimised_note = ""

    # ---------------------------------------------------------------- long jobs

    def _start_job(self, name: str, *args: Any) -> None:
        if self._job is not None:
            self.status.object = f"wait for the {self._job.name} job or cancel it"
            return
        self._job = jobs.start(name, *args)
        self._busy(f"{name} running", indeterminate=True)
        self._poller = pn.state.add_periodic_callback(self._poll, period=500)

    def _poll(self) -> None:
        job = self._job
        if job is None:
            return
        done = job.poll()
        if done is None:
            self.status.object = f"{job.name} running: {job.elapsed:.0f} s (cancel stops it)"
            return
        kind, value = done
        if kind == "error":
            self._end_job(f"{job.name} failed: {html.escape(str(value))}")
            return
        if job.name == "optimise":
            ytr, eq, held_out = value
            self._optimised = (ytr, eq)
            self._optimised_note = (
                f"held-out success {_pct(held_out, 1)} (parametric, held-out set)"
            )
            self._draw_path()
            if self.outcome is not None:
                self._show(self.outcome, self.good)
            self._end_job(f"optimised in {job.elapsed:.0f} s")
        elif job.name == "adaptive":
            png, label, n, rows = value
            self.policy_map.object = png
            self.policy_map.visible = True
            cells = "".join(
                f"<tr><td>{html.escape(name)}</td><td>{_pct(p, 1)}</td>"
                f"<td>&plusmn; {_pct(se, 1)}</td></tr>"
                for name, p, se in rows[:4]
            )
            self.adaptive_note.object = (
                f"<b>Adaptive glide path</b> (equity by age and wealth, dynamic programming): "
                f"success on its own {html.escape(label)} set of {n:,} scenarios "
                f"(as <code>glidelab run</code> measures it)<table class='gl-res'>{cells}</table>"
            )
            self._end_job(f"adaptive policy solved in {job.elapsed:.0f} s")
        elif job.name == "frontier":
            self._show_frontier(value)
            self._end_job(f"fund-design frontier in {job.elapsed:.0f} s")
        else:
            self._end_job(
                f"wrote the tear sheet to {html.escape(str(value))} in {job.elapsed:.0f} s"
            )

    def _end_job(self, message: str) -> None:
        if self._poller is not None:
            self._poller.stop()
            self._poller = None
        self._job = None
        self._idle()
        self.status.object = message

    def _on_optimise(self, event: Any) -> None:
        if self._syncing:
            return
        view = replace(self.view, optimised=bool(event.new))
        self._apply(view, None)
        if event.new:
            self._start_job("optimise", to_raw(self.good))
        else:
            self._optimised = None
            self._optimised_note = ""
            self._draw_path()

    def _on_adaptive(self, event: Any) -> None:
        self._apply(replace(self.view, adaptive=bool(event.new)), None)
        if event.new:
            self._start_job("adaptive", to_raw(self.good))
        else:
            self.policy_map.object, self.policy_map.visible = None, False
            self.adaptive_note.object = ""

    def _on_frontier(self, event: Any) -> None:
        if event.new:
            self._start_job("frontier", to_raw(self.good))
        else:
            self.frontier_map.object, self.frontier_map.visible = None, False
            self.frontier_note.object = ""

    def _show_frontier(self, fv: jobs.FrontierView) -> None:
        """The frontier chart and the drawn path's place on it (or why it has none)."""
        self.frontier_map.object = fv.png
        self.frontier_map.visible = True
        if fv.drawn is None:
            where = f"<span id='gl-frontier-drawn'>not placed: {html.escape(fv.note)}</span>"
        else:
            d = fv.drawn
            where = (
                f"<span id='gl-frontier-drawn' data-value='{d['success']!r}'>the drawn path "
                f"(ring, read against the 2060 target date): success {_pct(d['success'], 1)}, "
                f"expected shortfall {d['shortfall']:.2f} years of spending, median "
                f"replacement {_pct(d['median_replacement'], 0)}</span>"
            )
        self.frontier_note.object = (
            f"<b>Fund-design frontier</b> of the 2060 vintage ({fv.members:,} member-paths on "
            f"{fv.paths:,} bootstrap paths, seed {fv.seed}; <code>glidelab design</code> at "
            f"small scale): {where}. The path is placed as drawn when the box was ticked; "
            "tick it again to place a new one."
        )

    def _on_tearsheet(self, event: Any) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = (self.out_root / f"{self.good.member.get('name', 'view')}-{stamp}").resolve()
        self._start_job("tearsheet", to_raw(self.good), str(out))


def _finite(x: Any, default: float = float("nan")) -> float:
    """A number from the browser (None or NaN for an empty cell) as a float."""
    try:
        f = float(x)
    except (TypeError, ValueError):
        return default
    return f if np.isfinite(f) else default


def create_app(template: dict[str, Any], out_root: Path) -> pn.viewable.Viewable:
    """A new session's page (called by the server once per browser session)."""
    return Workbench(template, out_root).layout

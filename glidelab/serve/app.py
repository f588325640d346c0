"""The page: one :class:`Workbench` per browser session.

Every edit makes a new :class:`~glidelab.serve.state.View` and checks it, first against
the page's own fields (:mod:`glidelab.serve.fields`: ranges in the units the fields are
typed in, messages with the field's label), then with the study schema. A view that
fails applies nothing: the chart keeps the last good path, the error shows under the
field with its label, and the last good numbers stay on screen, greyed and struck, marked
"stale: fix <field>". A good view is recomputed through
:func:`glidelab.serve.compute.evaluate`. Up to ``compute.CHUNK`` scenarios are computed
at once in the event loop (tens of milliseconds); more run in a thread with progress and
a cancel button, and the optimiser, the adaptive policy, the fund-design frontier and
the tear sheet run in a child process (``glidelab.serve.jobs``), so the page never
freezes. The optimised path and the adaptive policy, once solved, are scored on the
page's own scenarios beside the drawn path.

The page fits windows from 1280 to 1920 px wide: the member column is fixed, the
strategy and results columns share the rest, and rows of fields wrap.
"""

from __future__ import annotations

import copy
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
from backtest.report.units import format_value, format_with_se, human_label, readable
from glidelab.serve import jobs
from glidelab.serve.compute import CHUNK, Cancelled, Outcome, evaluate, history_of
from glidelab.serve.fields import FIELDS, MEMBER, Field, friendly, label_of, schema_field
from glidelab.serve.state import (
    OPTIMISED_NAME,
    PINNED_NAME,
    SCENARIO_KINDS,
    DrawnPath,
    View,
    check,
    drawable_presets,
    from_preset,
    initial_view,
    to_raw,
    to_study,
    to_toml,
)
from strategies import preset
from strategies.base import Schedule
from strategies.presets import PRESETS

if TYPE_CHECKING:
    from bokeh.models.sources import DataDict  # a stub-only alias

log = logging.getLogger("glidelab.serve")

#: Withdrawal rules offered: the page's words -> the schema's names.
WITHDRAWAL_RULES = {
    "a constant real amount": "constant_real",
    "a fixed percent of the balance": "fixed_percent",
    "Guyton-Klinger guardrails": "guyton_klinger",
    "the RMD table": "rmd",
    "none (accumulation only)": "none",
}
#: The route the server serves written tear sheets under (``glidelab.serve.server``).
TEARSHEET_ROUTE = "tearsheets"
#: Name of the adaptive policy in the results table.
ADAPTIVE_NAME = "adaptive policy"
#: Presets drawn beside the path at most (a chart stays readable at about six lines).
MAX_SHOWN = 3
#: Colours of the presets drawn beside the path.
SHOWN_COLOURS = ("#7b3294", "#008837", "#a6611a")

_CSS = """
table.gl-res td { padding: 2px 10px 2px 0; vertical-align: top; }
"""
_ERROR_STYLE = "color:#b00020;font-size:12px"
_WARN_STYLE = "color:#8a5a00;font-size:12px"

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


#: Between a number and its unit on the page, so that "87.91 %" never breaks.
_NBSP = "&nbsp;"


def _name(name: str) -> str:
    """A strategy's name as the page shows it: presets and assets by their display names,
    inside a longer name too ("best constant (90% us_stocks)" -> "... US stocks)")."""
    return html.escape(readable(human_label(name)))


def _note(text: str, style: str = _ERROR_STYLE) -> str:
    return f"<span style='{style}'>{html.escape(text)}</span>" if text else ""


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
        self._held_out: float | None = None  # the optimiser's held-out success
        self._adaptive: jobs.AdaptiveView | None = None
        self._adaptive_member: dict[str, Any] | None = None  # the member it was solved for
        self._undo: list[DrawnPath] = []
        self._redo: list[DrawnPath] = []
        self._stale = ""  # the label of the field to fix, while the numbers are stale
        self._build()
        if self.doc is not None:  # a closed tab stops its jobs and its worker
            pn.state.on_session_destroyed(lambda _ctx: self._shutdown())
        self._apply(self.view, None)

    # ---------------------------------------------------------------- widgets

    @staticmethod
    def _knot_data(v: View | DrawnPath) -> DataDict:
        data: DataDict = {"x": list(v.ages), "y": list(v.equity)}
        if v.cash:
            data["cash"] = list(v.cash)
        return data

    def _error(self, key: str | None = None) -> pn.pane.HTML:
        """A field's message line (under a field: as wide as one, so rows of fields can
        sit side by side and wrap; ``key`` "knots" or none: the column's width)."""
        if key in (None, "knots"):
            return pn.pane.HTML("", margin=(0, 10), sizing_mode="stretch_width")
        return pn.pane.HTML("", margin=(0, 10), width=220)

    def _number(self, f: Field, value: Any, width: int = 210) -> Any:
        """A number field typed in ``f``'s unit (percent for a rate), showing ``value``
        (held as the view holds it): an ``IntInput`` for a whole number, else a
        ``FloatInput``."""
        kind = pn.widgets.IntInput if f.whole else pn.widgets.FloatInput
        return kind(label=f.caption, value=f.shown(value), width=width)

    def _build(self) -> None:
        """Make every widget and chart of the page and lay them out in three columns."""
        self.errors: dict[str, pn.pane.HTML] = {}
        self.inputs: dict[str, Any] = {}
        member_rows = self._member_inputs()
        self._spending_widgets()
        self._strategy_widgets()
        self._compare_widgets()
        self._scenario_widgets()
        self._action_widgets()
        self._charts()
        self.layout = pn.Column(
            pn.pane.HTML(
                "<h2 style='margin:4px 0'>glidelab workbench</h2><div>Draw a glide path and "
                "watch the member's odds move. Amounts are real USD of the start date a "
                "year; rates are typed in percent (0.2 is 0.2 %).</div>",
                sizing_mode="stretch_width",
            ),
            pn.Row(
                self._member_panel(member_rows),
                self._strategy_panel(),
                self._results_panel(),
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
            stylesheets=[_CSS],
        )

    def _member_inputs(self) -> list[pn.Column]:
        """One number field (with its message line) per member number; returns their rows."""
        m = self.view.member
        member_rows = []
        for f in MEMBER:
            w = self._number(f, m.get(f.key))
            w.param.watch(functools.partial(self._on_member, f.key), "value")
            self.inputs[f.key] = w
            self.errors[f.key] = self._error(f.key)
            member_rows.append(pn.Column(w, self.errors[f.key], margin=0))
        return member_rows

    def _spending_widgets(self) -> None:
        """The spending rule, its amount or rate, and what success means."""
        m = self.view.member
        wd = m.get("withdrawal", {})
        self.w_rule = pn.widgets.Select(
            width=210, label="spending rule", options=WITHDRAWAL_RULES, value=wd.get("rule", "none")
        )
        self.w_amount = self._number(FIELDS["amount"], wd.get("amount"))
        self.w_rate = self._number(FIELDS["rate"], wd.get("rate"))
        sc = m.get("success", {})
        self.s_kind = pn.widgets.Select(
            width=210,
            label="success means",
            options={
                "the money lasts to the end age": "money_lasts",
                "a funded pension": "funded_ratio",
            },
            value=sc.get("kind", "money_lasts"),
        )
        repl = sc.get("replacement_rate", 0.7 if sc.get("accrual_rate") is None else None)
        self.s_repl = self._number(FIELDS["replacement_rate"], repl)
        for w in (self.w_rule, self.w_amount, self.w_rate, self.s_kind, self.s_repl):
            w.param.watch(self._on_spending, "value")
        for key in ("withdrawal", "amount", "rate", "success", "replacement_rate"):
            self.errors[key] = self._error(key)

    def _strategy_widgets(self) -> None:
        """The preset picker, the knot buttons, the Bitcoin sleeve and the rebalancing rule."""
        v = self.view
        self.preset = pn.widgets.Select(
            width=230,
            label="start from preset",
            options={"(drawn)": "(drawn)", **{human_label(p): p for p in drawable_presets()}},
            value="(drawn)",
        )
        self.preset.param.watch(self._on_preset, "value")
        self.add_knot = pn.widgets.Button(label="add knot", width=90)
        self.remove_knot = pn.widgets.Button(label="remove selected knot", width=160)
        self.undo = pn.widgets.Button(label="undo", width=70, disabled=True)
        self.redo = pn.widgets.Button(label="redo", width=70, disabled=True)
        self.add_knot.on_click(self._on_add)
        self.remove_knot.on_click(self._on_remove)
        self.undo.on_click(functools.partial(self._on_history, -1))
        self.redo.on_click(functools.partial(self._on_history, 1))
        self.sleeve = pn.widgets.FloatSlider(
            label="Bitcoin sleeve, of the portfolio",
            start=0.0,
            end=0.10,
            step=0.005,
            value=v.sleeve,
            format="0.0[0]%",
            width=240,
        )
        self.before = pn.widgets.Select(
            width=210,
            label="Bitcoin before its data",
            options={"earns T-bills (cash)": "cash", "lognormal proxy": "proxy"},
            value=v.before_data,
        )
        self.proxy_mean = self._number(FIELDS["btc_mean"], v.proxy[0], width=240)
        self.proxy_vol = self._number(FIELDS["btc_vol"], v.proxy[1], width=240)
        for w, x in ((self.proxy_mean, v.proxy[0]), (self.proxy_vol, v.proxy[1])):
            w.value = None if x is None else round(100 * x, 2)  # 19.72, not 19.7217363122
        self.rebalance = pn.widgets.Select(
            width=160,
            label="rebalancing",
            options={"calendar": "calendar", "band (drift)": "band", "none (buy and hold)": "none"},
            value=v.rebalance,
        )
        self.every = self._number(FIELDS["rebalance_every_months"], v.rebalance_every_months, 160)
        self.band = self._number(FIELDS["rebalance_band"], v.rebalance_band, 160)
        self.crypto_note = pn.pane.HTML("", sizing_mode="stretch_width")
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
            "btc_mean",
            "btc_vol",
            "rebalance_every_months",
            "rebalance_band",
            "knots",
        ):
            self.errors[key] = self._error(key)

    def _compare_widgets(self) -> None:
        """Pin the drawn path as the baseline, and presets drawn beside it."""
        self.pin = pn.widgets.Button(label="pin this path as the baseline", width=220)
        self.pin.on_click(self._on_pin)
        self.shown = pn.widgets.MultiChoice(
            label=f"also draw and score (up to {MAX_SHOWN} presets)",
            options={human_label(p): p for p in drawable_presets()},
            value=[],
            max_items=MAX_SHOWN,
            width=440,
        )
        self.shown.param.watch(self._on_shown, "value")

    def _baseline_options(self, pinned: bool) -> dict[str, str]:
        out = {human_label(p): p for p in PRESETS}
        if pinned:
            out = {"the pinned drawn path": PINNED_NAME, **out}
        return out

    def _scenario_widgets(self) -> None:
        """The scenario kind, count, seed and baseline, and the optional heavy overlays."""
        v = self.view
        self.kind = pn.widgets.Select(
            width=180, label="scenarios", options=list(SCENARIO_KINDS), value=v.scenarios
        )
        self.count = self._number(
            replace(FIELDS["bootstrap_n"], label="Scenarios (bootstrap, parametric)"),
            v.n_scenarios,
            180,
        )
        self.seed = self._number(FIELDS["seed"], v.seed, 180)
        self.baseline = pn.widgets.Select(
            width=240,
            label="baseline (same scenarios)",
            options=self._baseline_options(False),
            value=v.baseline,
        )
        for w in (self.kind, self.count, self.seed, self.baseline):
            w.param.watch(self._on_scenarios, "value")
        for key in ("bootstrap_n", "seed", "baseline"):
            self.errors[key] = self._error(key)
        self.errors["parametric_n"] = self.errors["bootstrap_n"]  # the same count field
        self.opt = pn.widgets.Checkbox(label="optimised path (runs the optimiser)")
        self.opt.param.watch(self._on_optimise, "value")
        self.adapt = pn.widgets.Checkbox(label="adaptive policy map (runs the DP solver)")
        self.adapt.param.watch(self._on_adaptive, "value")
        self.policy_map = pn.pane.PNG(None, sizing_mode="stretch_width", visible=False)
        self.adaptive_note = pn.pane.HTML("", sizing_mode="stretch_width")
        self.front = pn.widgets.Checkbox(
            label="fund-design frontier, 2060 vintage (runs the design)"
        )
        self.front.param.watch(self._on_frontier, "value")
        self.frontier_map = pn.pane.PNG(None, sizing_mode="stretch_width", visible=False)
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
        self.status = pn.pane.HTML("", sizing_mode="stretch_width")
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
            width=235,
        )

    def _strategy_panel(self) -> pn.Column:
        """The middle column: the glide-path chart and its settings, then the scenarios."""

        def wrap(*items: Any) -> pn.FlexBox:
            return pn.FlexBox(*items, flex_wrap="wrap", sizing_mode="stretch_width")

        return pn.Column(
            "### The strategy",
            "Drag a knot; click empty space to add one; click a knot and press Backspace "
            "(or the button) to remove it. Knots snap to whole years and whole percent.",
            wrap(self.preset, self.add_knot, self.remove_knot, self.undo, self.redo),
            self.path_pane,
            self.errors["knots"],
            self.knot_table,
            wrap(self.pin, self.shown),
            wrap(pn.Column(self.sleeve, self.errors["crypto_sleeve"]), self.before),
            wrap(
                pn.Column(self.proxy_mean, self.errors["btc_mean"]),
                pn.Column(self.proxy_vol, self.errors["btc_vol"]),
            ),
            self.crypto_note,
            wrap(
                self.rebalance,
                pn.Column(self.every, self.errors["rebalance_every_months"]),
                pn.Column(self.band, self.errors["rebalance_band"]),
            ),
            "### The scenarios",
            wrap(
                self.kind,
                pn.Column(self.count, self.errors["bootstrap_n"]),
                pn.Column(self.seed, self.errors["seed"]),
            ),
            wrap(
                pn.Column(self.baseline, self.errors["baseline"]),
                pn.Column(self.opt, self.adapt, self.front),
            ),
            sizing_mode="stretch_width",
            min_width=500,
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
            sizing_mode="stretch_width",
            min_width=430,
        )

    def _charts(self) -> None:
        """The three charts: the drawable glide path, the wealth fan and the cohort bars."""
        self._path_chart()
        self._fan_chart()
        self._cohort_chart()

    def _path_chart(self) -> None:
        """The glide-path chart: draggable knots (clamped to the box), the drawn, baseline,
        optimised, presets' and cash lines, and the knot table under it."""
        start, _, end = self._ages()
        self.knots = ColumnDataSource(data=self._knot_data(self.view))
        self.cash_src = ColumnDataSource(data={"x": [], "y": []})
        self.path_src = ColumnDataSource(data={"x": [], "y": []})
        self.base_src = ColumnDataSource(data={"x": [], "y": []})
        self.opt_src = ColumnDataSource(data={"x": [], "y": []})
        self.shown_src = ColumnDataSource(data={"xs": [], "ys": [], "color": [], "name": []})
        p = figure(
            height=300,
            sizing_mode="stretch_width",
            x_range=Range1d(start=start - 1, end=end + 1),
            y_range=Range1d(start=-0.03, end=1.03),
            tools="",
            toolbar_location="above",
            x_axis_label="age",
            y_axis_label="equity share",
        )
        p.yaxis.formatter = NumeralTickFormatter(format="0%")
        p.line(
            "x", "y", source=self.base_src, color="#555555", line_dash="dashed",
            line_width=2, legend_label="baseline",
        )  # fmt: skip
        p.multi_line(
            "xs", "ys", source=self.shown_src, color="color", line_width=1.5, legend_field="name"
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
        p.legend.label_text_font_size = "11px"
        p.legend.background_fill_alpha = 0.85
        self.clamp = CustomJS(args={"source": self.knots, "lo": start, "hi": end}, code=_CLAMP_JS)
        self.knots.js_on_change("data", self.clamp)
        self.knots.on_change("data", self._on_knots)
        self.path_fig = p
        self.path_pane = pn.pane.Bokeh(p, sizing_mode="stretch_width")
        self.knot_table = pn.pane.HTML("", sizing_mode="stretch_width")

    def _fan_chart(self) -> None:
        """The wealth fan: 10-90 and 25-75 percentile bands and the median, real USD by age."""
        self.fan_src = ColumnDataSource(
            data={k: [] for k in ("age", "p10", "p25", "p50", "p75", "p90")}
        )
        f = figure(
            height=230,
            sizing_mode="stretch_width",
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
        self.fan_pane = pn.pane.Bokeh(f, sizing_mode="stretch_width")

    def _cohort_chart(self) -> None:
        """The historical cohorts' bars: the age each cohort's money lasted to, red if ruined."""
        self.cohort_src = ColumnDataSource(data={"year": [], "top": [], "color": [], "what": []})
        c = figure(
            height=210,
            sizing_mode="stretch_width",
            tools="",
            toolbar_location=None,
            x_axis_label="cohort's first year",
            y_axis_label="age the money lasted to",
            title="Historical cohorts: red = the money ran out",
        )
        c.vbar(x="year", top="top", width=0.8, color="color", source=self.cohort_src)
        c.xaxis.formatter = NumeralTickFormatter(format="0")  # 1930, not 1,930
        c.add_tools(HoverTool(tooltips=[("cohort", "@year"), ("", "@what")]))
        self.cohort_fig = c
        self.cohort_pane = pn.pane.Bokeh(c, sizing_mode="stretch_width")

    # ---------------------------------------------------------------- helpers

    def _ages(self) -> tuple[float, float, float]:
        """Start, retirement and end age of the last good view (what the chart shows)."""
        m = self.good.member

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

    def _after(self, fn: Any, *args: Any) -> None:
        """Run ``fn(*args)`` on the session's event loop (from a worker thread)."""
        if self.doc is not None:
            self.doc.add_next_tick_callback(functools.partial(fn, *args))

    # ---------------------------------------------------------------- events

    def _on_member(self, key: str, event: Any) -> None:
        self._apply(self.view.with_member(key, FIELDS[key].held(event.new)), key)

    def _on_spending(self, event: Any) -> None:
        rule = self.w_rule.value
        wd: dict[str, Any] = {
            "rule": rule,
            "timing": self.view.member.get("withdrawal", {}).get("timing", "start"),
        }
        if rule == "constant_real":
            wd["amount"] = FIELDS["amount"].held(self.w_amount.value)
        elif rule != "none":
            wd["rate"] = FIELDS["rate"].held(self.w_rate.value)
        wd = {k: v for k, v in wd.items() if v is not None}
        if rule == "none":
            wd.pop("timing")
        success: dict[str, Any] = {"kind": self.s_kind.value}
        if self.s_kind.value == "funded_ratio":
            success["replacement_rate"] = FIELDS["replacement_rate"].held(self.s_repl.value)
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
            self.proxy_mean: "btc_mean",
            self.proxy_vol: "btc_vol",
            self.every: "rebalance_every_months",
            self.band: "rebalance_band",
        }.get(event.obj)
        view = replace(
            self.view,
            # a slider always holds a number; panel declares every slider value allow_None
            sleeve=float(self.sleeve.value),  # type: ignore[arg-type]
            before_data=self.before.value,
            proxy=(
                FIELDS["btc_mean"].held(self.proxy_mean.value),
                FIELDS["btc_vol"].held(self.proxy_vol.value),
            ),
            rebalance=self.rebalance.value,
            rebalance_every_months=self.every.value,
            rebalance_band=FIELDS["rebalance_band"].held(self.band.value),
        )
        self._apply(view, edited)

    def _on_scenarios(self, event: Any) -> None:
        if self._syncing:
            return
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
        if event.new == "(drawn)" or self._syncing:
            return
        try:
            view = from_preset(self.view, event.new)
        except GlidelabError as exc:
            self.errors["knots"].object = _note(str(exc))
            return
        self._sync_widgets(view)
        self._apply(view, "knots")

    def _on_shown(self, event: Any) -> None:
        self._apply(replace(self.view, shown=tuple(event.new)), None)

    def _on_pin(self, event: Any) -> None:
        """Pin the drawn path (as last applied) as the baseline, on the same scenarios."""
        if self._stale:
            self.general.object = _note(f"fix {self._stale} first: the numbers are stale")
            return
        view = replace(self.view, pinned=self.good.drawn, baseline=PINNED_NAME)
        self._syncing = True
        try:
            self.baseline.options = self._baseline_options(True)
            self.baseline.value = PINNED_NAME
        finally:
            self._syncing = False
        self._apply(view, "baseline")

    def _on_history(self, step: int, event: Any) -> None:
        """Undo (``step`` -1) or redo (+1) the last knot edit."""
        if self._stale:
            self.general.object = _note(f"fix {self._stale} first: the numbers are stale")
            return
        source, target = (self._undo, self._redo) if step < 0 else (self._redo, self._undo)
        if not source:
            return
        path = source.pop()
        target.append(self.good.drawn)
        self._set_preset_label("(drawn)")
        self._apply(replace(self.view, ages=path.ages, equity=path.equity, cash=path.cash), "undo")

    def _sync_widgets(self, view: View) -> None:
        """Show a view's strategy settings in the widgets without re-triggering edits."""
        self._syncing = True
        try:
            self.rebalance.value = view.rebalance
            self.every.value = view.rebalance_every_months
            self.band.value = FIELDS["rebalance_band"].shown(view.rebalance_band)
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
            self.errors["knots"].object = _note("no room for another knot (one per whole year)")
            return
        age = float(round((ages[i] + ages[i + 1]) / 2))
        v = self.view
        eq = float(np.interp(age, v.ages, v.equity)) if v.ages else 0.5
        cash = list(v.cash) if v.cash else [float("nan")] * len(v.ages)
        self._apply(self._snapped([*v.ages, age], [*v.equity, eq], [*cash, float("nan")]), "knots")

    def _on_remove(self, event: Any) -> None:
        idx = set(self.knots.selected.indices)
        if not idx:
            self.errors["knots"].object = _note("click a knot first to select it")
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
        """Check ``view`` (the page's fields, then the study schema); apply and recompute
        it when it is good, else apply nothing and mark the numbers stale."""
        if self._syncing:
            return
        self.view = view
        self._clear_errors()
        errors, warnings = check(view)
        for key, message in warnings:
            self.errors[key].object = _note(message, _WARN_STYLE)
        if errors:
            ages = ("start_age", "retirement_age", "end_age")
            first = ""
            for key, message in errors:
                if key == "ages":
                    key = edited if edited in ages else "end_age"
                self.errors[key].object = _note(message)
                if not first or key == edited:
                    first = key
            self._mark_stale(label_of(first))
            return
        try:
            study = to_study(view)
        except GlidelabError as exc:
            self._schema_error(str(exc), edited)
            return
        self._accept(view, study, edited)
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
            outcome = evaluate(study, view.scenarios, baseline=view.baseline, extra=self._extra())
        except GlidelabError as exc:
            self.general.object = _note(friendly(str(exc)))
            self._mark_stale("the message above")
            return
        self._show(outcome, view)

    def _accept(self, view: View, study: Any, edited: str | None) -> None:
        """Make ``view`` the page's good view: knot history, chart, Bitcoin note."""
        prev = self.good
        self.good = view
        self._stale = ""
        moved = (prev.ages, prev.equity, prev.cash) != (view.ages, view.equity, view.cash)
        if edited == "knots" and moved:
            self._undo.append(prev.drawn)
            self._redo.clear()
        self.undo.disabled, self.redo.disabled = not self._undo, not self._redo
        self._draw_path()
        self.crypto_note.object = _note(crypto_warning(view, study), _WARN_STYLE)

    def _schema_error(self, message: str, edited: str | None) -> None:
        """Show a schema error under the field it names (the edited one first), in the
        fields' words, and mark the numbers stale."""
        keys = {schema_field(k) for k in re.findall(r"\b[a-z]+(?:_[a-z]+)*\b", message)}
        named = [k for k in self.errors if k in keys]
        if "years_to_retirement" in message or ("[strategies].custom" in message and not named):
            named = ["knots"]
        text = _note(friendly(message))
        key = edited if edited in named else (named[0] if named else None)
        if key is None:
            self.general.object = text
            self._mark_stale("the message above")
            return
        self.errors[key].object = text
        self._mark_stale("the knots" if key == "knots" else label_of(key))

    def _mark_stale(self, what: str) -> None:
        """The last numbers stay, greyed and struck, with the field to fix; the chart
        shows the last good path (a knot dragged meanwhile goes back)."""
        self._stale = what
        self.results.css_classes = ["gl-stale"]
        self._draw_path()
        self._render()

    def _extra(self) -> dict[str, Any]:
        """The adaptive policy, while the member is the one it was solved for."""
        if self._adaptive is None or self._adaptive_member != self.view.member:
            return {}
        return {ADAPTIVE_NAME: self._adaptive.policy}

    def _compute_in_thread(self, study: Any, view: View, cancel: threading.Event) -> None:
        try:
            outcome = evaluate(
                study,
                view.scenarios,
                progress=lambda x: self._after(self._set_progress, x),
                cancel=cancel,
                baseline=view.baseline,
                extra=self._extra(),
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
        self.general.object = _note(friendly(message))

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
        """The chart and the knot table from the last good view."""
        v = self.good
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
        self.path_src.data = _knot_line(v.ages, v.equity, start, end)
        self.cash_src.data = _knot_line(v.ages, v.cash, start, end)
        if v.optimised_path is not None:
            ytr, eq = v.optimised_path
            pairs = sorted(zip((retire - y for y in ytr), eq, strict=True))
            ages, shares = (tuple(a for a, _ in pairs), tuple(e for _, e in pairs))
            self.opt_src.data = _knot_line(ages, shares, start, end)
        else:
            self.opt_src.data = {"x": [], "y": []}
        self._comparison_lines()
        knots = json.dumps([[a, e] for a, e in zip(v.ages, v.equity, strict=True)])
        cash = v.cash or (0.0,) * len(v.ages)
        rows = "".join(
            f"<td>{a:g}: {format_value(e, 'pct', 0, sep=_NBSP)}"
            + (f" (cash {format_value(c, 'pct', 0, sep=_NBSP)})" if v.cash else "")
            + "</td>"
            for a, e, c in zip(v.ages, v.equity, cash, strict=True)
        )
        self.knot_table.object = f"<table class='gl-knots' id='gl-knots' data-knots='{knots}'><tr><td>knots (age: equity)</td>{rows}</tr></table>"

    def _comparison_lines(self) -> None:
        """The baseline's equity share by age (a pinned path, or a static preset) and the
        presets drawn beside the path."""
        v = self.good
        start, _, end = self._ages()
        if v.baseline == PINNED_NAME and v.pinned is not None:
            self.base_src.data = _knot_line(v.pinned.ages, v.pinned.equity, start, end)
        else:
            self.base_src.data = self._preset_line(v.baseline) or {"x": [], "y": []}
        lines = [(n, self._preset_line(n)) for n in v.shown]
        drawn = [(n, line) for n, line in lines if line is not None]
        self.shown_src.data = {
            "xs": [line["x"] for _, line in drawn],
            "ys": [line["y"] for _, line in drawn],
            "color": [SHOWN_COLOURS[i % len(SHOWN_COLOURS)] for i in range(len(drawn))],
            "name": [human_label(n) for n, _ in drawn],
        }

    def _preset_line(self, name: str) -> DataDict | None:
        """A static preset's equity share at the start of each year, to the end age
        (``None`` for a strategy that adapts to returns)."""
        start, retire, end = self._ages()
        try:
            strat = preset(name)
        except (GlidelabError, KeyError, ValueError):
            return None
        if strat.depends_on_returns:
            return None
        sched = Schedule.from_ages(start, end, retire, 1)
        past = np.zeros((1, sched.n_periods, len(strat.assets)))
        w = np.asarray(strat.target_weights(sched, past))[0]
        return {"x": [*sched.age_start, end], "y": [*w[:, 0], w[-1, 0]]}

    def _show(self, o: Outcome, view: View) -> None:
        """Show a finished computation (``view``'s): numbers, fan and cohort charts."""
        self._idle()
        self.status.object = (
            f"computed in {1000 * o.seconds:.0f} ms" if self._job is None else self.status.object
        )
        self.outcome = o
        self._outcome_view = view
        if not self._stale:
            self.results.css_classes = []
        self._render()
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
        self._adaptive_text()

    _outcome_view: View | None = None

    def _render(self) -> None:
        """The results table of the last computation; greyed and struck, with the field
        to fix, while the page's inputs are stale."""
        o, view = self.outcome, self._outcome_view
        if o is None or view is None:
            self.results.object = _stale_banner(self._stale)
            return
        body = results_table(o, view, self._held_out)
        if self._stale:
            body = (
                _stale_banner(self._stale)
                + "<div style='opacity:0.45' class='gl-stale'>"
                + body.replace(
                    "class='gl-num'", "class='gl-num' style='text-decoration:line-through'"
                )
                + "</div>"
            )
        self.results.object = body

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
        seconds = job.elapsed
        if job.name == "optimise":
            ytr, eq, held_out = value
            self._held_out = held_out
            # scored on the page's scenarios beside the drawn path (before the job ends, so
            # the job's message stays)
            self._apply(replace(self.view, optimised_path=(ytr, eq)), None)
            self._end_job(f"optimised in {seconds:.0f} s")
        elif job.name == "adaptive":
            self._adaptive = value
            self._adaptive_member = copy.deepcopy(self.good.member)
            self.policy_map.object = value.png
            self.policy_map.visible = True
            self._apply(self.view, None)  # scored on the page's scenarios
            self._end_job(f"adaptive policy solved in {seconds:.0f} s")
        elif job.name == "frontier":
            self._show_frontier(value)
            self._end_job(f"fund-design frontier in {seconds:.0f} s")
        else:
            self._end_job(self._tearsheet_link(Path(value), seconds))

    def _tearsheet_link(self, folder: Path, seconds: float) -> str:
        """Links that open the written tear sheet (served under :data:`TEARSHEET_ROUTE`)."""
        try:
            rel = folder.resolve().relative_to(self.out_root.resolve()).as_posix()
        except ValueError:  # not under the served folder: say where it is
            return f"wrote the tear sheet to {html.escape(str(folder))} in {seconds:.0f} s"
        base = f"{TEARSHEET_ROUTE}/{rel}"
        return (
            f"wrote the tear sheet in {seconds:.0f} s: "
            f"<a id='gl-tearsheet' href='{html.escape(base)}/tearsheet.html' target='_blank'>"
            f"open it (HTML)</a> &middot; <a href='{html.escape(base)}/tearsheet.pdf' "
            "target='_blank'>PDF</a>"
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
        if not event.new:
            view = replace(view, optimised_path=None)
            self._held_out = None
        self._apply(view, None)
        if event.new:
            self._start_job("optimise", to_raw(self.good))

    def _on_adaptive(self, event: Any) -> None:
        if not event.new:
            self._adaptive = self._adaptive_member = None
            self.policy_map.object, self.policy_map.visible = None, False
            self.adaptive_note.object = ""
        self._apply(replace(self.view, adaptive=bool(event.new)), None)
        if event.new:
            self._start_job("adaptive", to_raw(self.good))

    def _adaptive_text(self) -> None:
        """The adaptive policy's success on the page's own scenarios, beside the drawn
        path and the baseline (the results table's figures), then on its solver's own
        held-out set, named as such."""
        a, o, view = self._adaptive, self.outcome, self._outcome_view
        if a is None or o is None or view is None:
            return
        row = next((r for r in o.others if r.name == ADAPTIVE_NAME), None)
        where = f"{o.n_scenarios:,} {html.escape(o.scenario_set)} scenarios, seed {view.seed}"
        if row is None:
            mine = "the member changed since it was solved: untick and tick the box to solve again"
        else:
            mine = (
                f"<span id='gl-adaptive' data-value='{row.success!r}'>"
                f"{format_with_se(row.success, row.success_se, 'pct', 2)}</span> success, against "
                f"{format_value(o.baseline_success, 'pct', 2, sep=_NBSP)} for the baseline "
                f"({_name(o.baseline)}) and "
                f"{format_value(o.success, 'pct', 2, sep=_NBSP)} for the drawn path"
            )
        own = ", ".join(
            f"{_name(name)} {format_with_se(p, se, 'pct', 1)}" for name, p, se in a.own_rows[:4]
        )
        self.adaptive_note.object = (
            f"<b>Adaptive glide path</b> (equity by age and wealth, dynamic programming). On the "
            f"page's scenarios ({where}, as in the results table): {mine}.<br>"
            f"<small>On the solver's own held-out {html.escape(a.own_set)} set ({a.own_n:,} "
            f"annual scenarios from its own seed stream, as <code>glidelab run</code> reports "
            f"it; not the page's scenarios): {own}.</small>"
        )

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
                "(ring, read against the 2060 target date): success "
                f"{format_value(d['success'], 'pct', 1, sep=_NBSP)}, "
                f"expected shortfall {d['shortfall']:.2f} years of spending, median "
                f"replacement {format_value(d['median_replacement'], 'pct', 0, sep=_NBSP)}</span>"
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


def _knot_line(
    ages: tuple[float, ...], shares: tuple[float, ...], start: float, end: float
) -> DataDict:
    """A path's line through its knots, held flat to the start and end ages."""
    if not ages or not shares:
        return {"x": [], "y": []}
    return {"x": [start, *ages, end], "y": [shares[0], *shares, shares[-1]]}


def _stale_banner(what: str) -> str:
    if not what:
        return ""
    return (
        f"<div id='gl-stale' style='{_ERROR_STYLE};font-size:14px;font-weight:600'>"
        f"stale: fix {html.escape(what)} (nothing was applied; the numbers below are the last "
        "good view's)</div>"
    )


def results_table(o: Outcome, view: View, held_out: float | None = None) -> str:
    """The results table's HTML: success with its standard error, the baseline and the
    paired difference, every other strategy on the same scenarios, wealth, scenarios."""
    knots = json.dumps([[a, e] for a, e in zip(view.ages, view.equity, strict=True)])
    rows = [
        "<tr><td>probability of success, drawn path</td><td class='gl-num' "
        "style='font-size:26px;font-weight:600'><span id='gl-success' "
        f"data-value='{o.success!r}' data-knots='{knots}'>"
        f"{format_value(o.success, 'pct', 2, sep=_NBSP)}</span></td>"
        f"<td>&plusmn; <span id='gl-success-se' data-value='{o.success_se!r}'>"
        f"{format_value(o.success_se, 'pct', 2, sep=_NBSP)}</span> (standard error)</td></tr>",
        f"<tr><td>baseline: {_name(o.baseline)}</td><td><span id='gl-baseline' "
        f"data-value='{o.baseline_success!r}'>"
        f"{format_value(o.baseline_success, 'pct', 2, sep=_NBSP)}</span></td><td></td></tr>",
        f"<tr><td>paired difference</td><td><span id='gl-difference' data-value='{o.difference!r}'>"
        f"{format_value(o.difference, 'pp', 2)}</span></td><td>&plusmn; "
        f"{100 * o.difference_se:.2f} (standard error, same scenarios)</td></tr>",
    ]
    for r in o.others:
        note = ""
        if r.name == OPTIMISED_NAME and held_out is not None and np.isfinite(held_out):
            held = format_value(held_out, "pct", 1, sep=_NBSP)
            note = f"; held-out success {held} on the optimiser's parametric set"
        rows.append(
            f"<tr><td>{_name(r.name)}</td><td><span class='gl-other' data-name="
            f"'{html.escape(r.name)}' data-value='{r.success!r}'>"
            f"{format_value(r.success, 'pct', 2, sep=_NBSP)}</span></td>"
            f"<td>&plusmn; {100 * r.success_se:.2f}; drawn path "
            f"{format_value(r.difference, 'pp', 2)} &plusmn; {100 * r.difference_se:.2f}"
            f"{note}</td></tr>"
        )
    rows += [
        f"<tr><td>terminal wealth, median</td><td><span id='gl-p50'>"
        f"{format_value(o.terminal_p50, 'usd')}</span></td><td>real</td></tr>",
        f"<tr><td>terminal wealth, 10th percentile</td><td><span id='gl-p10'>"
        f"{format_value(o.terminal_p10, 'usd')}</span></td><td>real</td></tr>",
        f"<tr><td>scenarios</td><td><span id='gl-n'>{o.n_scenarios:,}</span></td>"
        f"<td>{html.escape(o.scenario_set)}, seed {view.seed}; every row on these</td></tr>",
    ]
    return "<table class='gl-res'>" + "".join(rows) + "</table>"


def crypto_warning(view: View, study: Any) -> str:
    """What the Bitcoin sleeve's returns are in the view's scenarios, said next to the
    numbers: the stated assumption in arithmetic terms, and a warning whenever the
    scenarios replay Bitcoin's own (early-adoption) history ("" without a sleeve)."""
    if view.sleeve <= 0:
        return ""
    size = format_value(view.sleeve, "pct", 1)
    mean, vol = view.proxy
    stated = ""
    if mean is not None and vol is not None:
        stated = (
            f"expected return {format_value(mean, 'pct', 1)} a year (arithmetic), volatility "
            f"{format_value(vol, 'pct', 1)}"
        )
    if view.scenarios == "parametric":
        return f"A {size} Bitcoin sleeve on a stated lognormal assumption: {stated}."
    btc = history_of(study)[study.data.crypto].dropna()
    years = f"{btc.index[0].year}-{btc.index[-1].year}" if len(btc) else "its"
    before = (
        f"follows the lognormal proxy ({stated})"
        if view.before_data == "proxy"
        else "earns T-bill returns"
    )
    how = "replay" if view.scenarios == "historical cohorts" else "resample"
    return (
        f"A {size} sleeve on {how}d {years} Bitcoin history: these scenarios {how} Bitcoin's "
        f"early-adoption years (2010-2013 were thin early markets, with returns unlikely to "
        f"repeat); before {years[:4]} the sleeve {before}."
    )


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

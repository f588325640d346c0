"""``glidelab serve`` in a real browser: a server on a free loopback port, the system's
headless Chromium driven by Playwright (never a downloaded browser).

A knot is dragged with the mouse; the success probability the page then shows must
equal the simulator's for the same path and scenarios. The page must not reach any
other host, log a browser error or make the server log an error; a saved study must
rerun to the same numbers with ``glidelab run``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import pytest

from glidelab.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium ('chromium') is not installed"),
]
playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (the test extra has it)"
)

#: Scenarios on the page: small, so the test and the saved study's rerun are quick.
N_SCENARIOS = 400
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}

# Page coordinates of a knot of the glide-path chart (found by its y-axis label), from
# Bokeh's own scales: where the mouse must press to grab the knot.
_KNOT_XY = """([age, eq]) => {
  for (const v of Bokeh.index.all_views()) {
    const left = v.model.left;
    if (left && left.length && left[0].axis_label === "equity share") {
      const r = v.canvas_view.el.getBoundingClientRect();
      return [r.left + v.frame.x_scale.compute(age), r.top + v.frame.y_scale.compute(eq)];
    }
  }
  return null;
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """``glidelab serve`` on a free loopback port, starting from the default study with
    N_SCENARIOS bootstrap scenarios; yields (url, log path) and checks the log at the end."""
    import tomli_w

    from glidelab.serve.state import read_template

    tmp = tmp_path_factory.mktemp("serve")
    raw = read_template()
    raw["scenarios"]["bootstrap_n"] = N_SCENARIOS
    study = tmp / "start.toml"
    study.write_text(tomli_w.dumps(raw), encoding="utf-8")
    port = _free_port()
    log = tmp / "server.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("w") as out:
        cmd = [sys.executable, "-m", "glidelab.cli", "serve", str(study), "--port", str(port)]
        proc = subprocess.Popen(
            [*cmd, "--out", str(tmp / "out")],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the server exited: {log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"the server did not listen within 120 s: {log.read_text()}")
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}/", log
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    text = log.read_text()
    bad = [ln for ln in text.splitlines() if re.search(r"Traceback|ERROR|Exception", ln)]
    assert not bad, f"the server logged errors:\n{text}"


@pytest.fixture
def page(server):
    """A fresh page (its own session) with every request and console message recorded."""
    url, _ = server
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        pg = browser.new_page(viewport={"width": 1650, "height": 1150}, accept_downloads=True)
        pg.requests, pg.problems = [], []
        pg.on("request", lambda r: pg.requests.append(r.url))
        pg.on("console", lambda m: m.type == "error" and pg.problems.append(m.text))
        pg.on("pageerror", lambda e: pg.problems.append(str(e)))
        pg.goto(url)
        pg.wait_for_selector("#gl-success", timeout=120_000)
        yield pg
        outside = [
            u
            for u in pg.requests
            if urlparse(u).scheme in ("http", "https", "ws", "wss")
            and urlparse(u).hostname not in LOCAL_HOSTS
        ]
        assert not outside, f"requests to outside hosts: {outside}"
        assert not pg.problems, f"browser console errors: {pg.problems}"
        browser.close()


def _shown(pg) -> tuple[float, list[list[float]]]:
    el = pg.locator("#gl-success")
    return float(el.get_attribute("data-value")), json.loads(el.get_attribute("data-knots"))


def _api_success(knots: list[list[float]], sleeve: float = 0.0) -> float:
    """Success of the knots' glide path computed with the Python API on the page's
    scenarios: the default study's member, seed and bootstrap of N_SCENARIOS."""
    import dataclasses

    import glidelab as gl
    from glidelab.run import scenario_sets, study_history

    study = gl.load_study().study
    study = dataclasses.replace(
        study,
        scenarios=dataclasses.replace(study.scenarios, bootstrap_n=N_SCENARIOS),
        plans=(study.plan("lifecycle"),),
    )
    plan = study.plans[0].plan
    sets = scenario_sets(study, study_history(study), plan)
    path = gl.GlidePath(
        "check",
        ("us_stocks", "tbonds_10y"),
        tuple(plan.retirement_age - a for a, _ in knots),
        tuple((e, 1 - e) for _, e in knots),
    )
    return gl.simulate(sets["block bootstrap"], plan, path).success_rate


def test_drag_a_knot_and_the_numbers_follow(page, tmp_path: Path, record_property) -> None:
    before, knots = _shown(page)
    assert knots == [[40.0, 0.9], [65.0, 0.5], [72.0, 0.3]]  # Vanguard's path, by age
    assert before == pytest.approx(_api_success(knots), abs=0)
    # Drag the retirement knot (65, 50 %) down to about 20 % equity with the mouse.
    x0, y0 = page.evaluate(_KNOT_XY, [65, 0.5])
    x1, y1 = page.evaluate(_KNOT_XY, [65, 0.2])
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=5)
    page.mouse.move(x1, y1, steps=5)
    t0 = time.perf_counter()
    page.mouse.up()
    page.wait_for_function(
        """() => {
          const find = (root) => root.querySelector('#gl-success') ||
            [...root.querySelectorAll('*')].map(e => e.shadowRoot && find(e.shadowRoot))
              .find(Boolean);
          const el = find(document);
          return el && JSON.parse(el.dataset.knots)[1][1] < 0.4;
        }""",
        timeout=30_000,
    )
    seconds = time.perf_counter() - t0
    record_property("drop_to_numbers_seconds", round(seconds, 3))
    print(f"\nend to end, knot dropped -> numbers shown: {1000 * seconds:.0f} ms")
    after, moved = _shown(page)
    assert [a for a, _ in moved] == [40.0, 65.0, 72.0]  # same age, new share
    assert 0.15 <= moved[1][1] <= 0.25 and moved[1][1] == round(moved[1][1], 2)
    assert after == pytest.approx(_api_success(moved), abs=0)
    assert after != before  # a 30-point drop at retirement changes the odds
    # Another tab is another session: it still shows Vanguard's path.
    other = page.context.browser.new_page()
    other.goto(page.url)
    other.wait_for_selector("#gl-success", timeout=120_000)
    assert _shown(other)[1] == [[40.0, 0.9], [65.0, 0.5], [72.0, 0.3]]
    other.close()
    shot = tmp_path / "page.png"
    page.screenshot(path=str(shot), full_page=True)
    from matplotlib.image import imread

    img = imread(str(shot))
    assert img.shape[0] > 500 and img.shape[1] > 1000
    assert float(np.std(img[..., :3])) > 0.05  # not a blank page
    assert len(np.unique(img[..., :3].reshape(-1, 3), axis=0)) > 50  # charts, text, colours


def test_save_study_reruns_to_the_same_numbers(page, tmp_path: Path) -> None:
    # Start from a fixed 80/20 mix through the preset picker, then save.
    page.locator("select").filter(has_text="(drawn)").select_option(label="Fixed 80/20")
    page.wait_for_function(
        """() => {
          const find = (root) => root.querySelector('#gl-success') ||
            [...root.querySelectorAll('*')].map(e => e.shadowRoot && find(e.shadowRoot))
              .find(Boolean);
          const el = find(document);
          return el && JSON.parse(el.dataset.knots).every(k => k[1] === 0.8);
        }""",
        timeout=30_000,
    )
    shown, knots = _shown(page)
    with page.expect_download(timeout=30_000) as dl:
        page.get_by_text("save study (TOML)").click()
    saved = tmp_path / "view.toml"
    dl.value.save_as(saved)
    raw = tomllib.loads(saved.read_text("utf-8"))
    assert raw["strategies"]["custom"][0]["equity"] == [0.8, 0.8]
    assert main(["run", str(saved), "--quiet", "--out", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / raw["study"]["name"] / "success.csv")
    row = table[(table.strategy == "drawn glide path") & (table.scenarios == "block bootstrap")]
    # success.csv is written with 6 significant digits (float_format="%.6g").
    assert row.success_rate.item() == pytest.approx(shown, abs=5e-7)
    assert shown == pytest.approx(_api_success(knots), abs=0)


_FIND = """(sel) => {
  const find = (root) => root.querySelector(sel) ||
    [...root.querySelectorAll('*')].map(e => e.shadowRoot && find(e.shadowRoot)).find(Boolean);
  return find(document);
}"""


def _attr(pg, selector: str, name: str) -> str | None:
    """An attribute of the first element matching ``selector``, through shadow roots."""
    return pg.evaluate(
        f"(s) => {{ const el = ({_FIND})(s); return el && el.getAttribute('{name}'); }}", selector
    )


def _path_x_range(pg) -> list[float]:
    return pg.evaluate(
        """() => {
          for (const v of Bokeh.index.all_views()) {
            const left = v.model.left;
            if (left && left.length && left[0].axis_label === "equity share") {
              return [v.model.x_range.start, v.model.x_range.end];
            }
          }
          return null;
        }"""
    )


def _wait_knots(pg, n: int) -> None:
    pg.wait_for_function(
        f"""() => {{
          const el = ({_FIND})('#gl-success');
          return el && JSON.parse(el.dataset.knots).length === {n};
        }}""",
        timeout=30_000,
    )


def test_bad_input_is_named_by_its_label_and_applies_nothing(page) -> None:
    """End age 60 (before retirement): the field's label in the message, the numbers
    marked stale and struck, the chart's knots and axis unchanged; fixing it recomputes."""
    before = _shown(page)
    x_range = _path_x_range(page)
    field = page.get_by_label("End age")
    field.fill("60")
    field.press("Enter")
    page.wait_for_selector("text=stale: fix End age", timeout=30_000)
    assert page.get_by_text("Ages must run start <= retirement <= end").count() == 1
    assert page.locator("text=end_age").count() == 0 and page.locator("text=[[plans]]").count() == 0
    assert _shown(page) == before
    assert _path_x_range(page) == x_range
    assert json.loads(_attr(page, "#gl-knots", "data-knots")) == before[1]
    field.fill("95")
    field.press("Enter")
    page.wait_for_function(f"() => !({_FIND})('#gl-stale')", timeout=30_000)
    # a rate typed in percent: 0.35 % fees, not 35 %
    fees = page.get_by_label("Expense ratio (%)")
    fees.fill("0.35")
    fees.press("Enter")
    page.wait_for_function(
        f"""() => {{
          const el = ({_FIND})('#gl-success');
          return el && el.dataset.value !== '{before[0]!r}';
        }}""",
        timeout=30_000,
    )
    assert page.locator("text=stale").count() == 0


def _fits(page) -> None:
    """No horizontal overflow, and the results and every chart inside the window."""
    for width in (1280, 1920):
        page.set_viewport_size({"width": width, "height": 1000})
        page.wait_for_timeout(800)  # Bokeh re-lays out the stretched charts
        box = page.evaluate(
            f"""() => {{
              const d = document.documentElement;
              const right = Math.max(...Bokeh.index.all_views()
                .filter(v => v.canvas_view).map(v => v.canvas_view.el.getBoundingClientRect().right));
              const res = ({_FIND})('#gl-success').getBoundingClientRect().right;
              return [d.scrollWidth, d.clientWidth, right, res];
            }}"""
        )
        scroll, client, charts, results = box
        assert scroll <= client, f"{width} px: the page is {scroll} px wide"
        assert charts <= client and results <= client, (width, box)


def test_pin_a_drawn_path_and_undo_a_knot(page, tmp_path: Path) -> None:
    """The page fits 1280 and 1920 px windows; pin the drawn path as the baseline, add a
    knot, undo it; save: the percent fields are decimals in the study file, the pinned
    path is its second custom path."""
    _fits(page)
    first, knots = _shown(page)
    page.get_by_role("button", name="pin this path as the baseline").click()
    page.wait_for_selector("text=baseline: pinned drawn path", timeout=30_000)
    page.get_by_role("button", name="add knot").click()
    _wait_knots(page, 4)
    assert float(_attr(page, "#gl-baseline", "data-value")) == first  # the pinned path's
    page.get_by_role("button", name="undo").click()
    _wait_knots(page, 3)
    assert _shown(page) == (first, knots)
    fees = page.get_by_label("Expense ratio (%)")
    assert float(fees.input_value()) == 0.2  # the study's 0.002, in percent
    with page.expect_download(timeout=30_000) as dl:
        page.get_by_text("save study (TOML)").click()
    saved = tmp_path / "view.toml"
    dl.value.save_as(saved)
    raw = tomllib.loads(saved.read_text("utf-8"))
    assert raw["plans"][0]["expense_ratio"] == 0.002
    assert [c["name"] for c in raw["strategies"]["custom"]] == [
        "drawn glide path",
        "pinned drawn path",
    ]


def test_the_fund_design_frontier_places_the_drawn_path(page) -> None:
    """Ticking the frontier box runs the fund design in a background job; the frontier
    chart appears with the drawn path (Vanguard's, on a fresh page) placed at the point
    the job computes in-process for the same view."""
    from glidelab.serve import jobs, state

    boxes = page.locator("input[type=checkbox]")
    assert boxes.count() == 3  # optimised path, adaptive map, frontier (in that order)
    boxes.nth(2).check()
    page.wait_for_selector("#gl-frontier-drawn[data-value]", timeout=300_000)
    shown = float(page.locator("#gl-frontier-drawn").get_attribute("data-value"))
    raw = state.read_template()
    raw["scenarios"]["bootstrap_n"] = N_SCENARIOS
    expected = jobs.frontier(state.to_raw(state.initial_view(raw)))
    assert shown == pytest.approx(expected.drawn["success"], abs=0)  # same job, same numbers
    assert page.locator("img[src^='data:image/png']").count() >= 1  # the frontier chart
    assert page.get_by_text("fund-design frontier in").count() == 1

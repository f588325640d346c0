"""Headless Chromium for the report tests: the Debian binary, no network, one probe.

``render_probe(html, tmp)`` opens a report in Chromium with every outside host unreachable
and returns how many images loaded, how many resources were requested from outside the
file (``data:`` and ``file:`` URLs are inside) and the rendered DOM.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SKIP_REASON = "headless Chromium ('chromium') is not installed"

_PROBE = """<script>
window.addEventListener('load', function () {
  var imgs = Array.from(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  var remote = performance.getEntriesByType('resource').filter(function (e) {
    return !e.name.startsWith('data:') && !e.name.startsWith('file:');
  }).length;
  var p = document.createElement('p');
  p.id = 'probe';
  p.textContent = 'images ' + ok + '/' + imgs.length + ' remote ' + remote;
  document.body.appendChild(p);
});
</script></body>"""


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with ``args``; any request to another host goes nowhere."""
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--hide-scrollbars",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",  # any request that slipped through goes nowhere
        f"--user-data-dir={tmp / 'profile'}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


class Probe(NamedTuple):
    """What the page showed: images loaded of those on it, outside requests, the DOM."""

    ok: int
    total: int
    remote: int
    dom: str


def render_probe(html: str, tmp: Path) -> Probe:
    """Open a report's HTML text in Chromium and count what loaded (see :class:`Probe`)."""
    probe = tmp / "probe.html"
    probe.write_text(html.replace("</body>", _PROBE), encoding="utf-8")
    dom = chromium(tmp, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri())
    match = re.search(r"images (\d+)/(\d+) remote (\d+)", dom.stdout)
    assert match, f"probe did not run; stderr: {dom.stderr[-2000:]}"
    ok, total, remote = map(int, match.groups())
    return Probe(ok, total, remote, dom.stdout)


#: Per table row, the text boxes (one per line of each cell) that overlap another cell's.
OVERLAPS_JS = """() => {
  const bad = [];
  for (const tr of document.querySelectorAll('table tr')) {
    const boxes = [];
    Array.from(tr.children).forEach((cell, k) => {
      const range = document.createRange();
      range.selectNodeContents(cell);
      for (const b of range.getClientRects()) {
        if (b.width > 0) boxes.push({k, b, text: cell.textContent.trim()});
      }
    });
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i], c = boxes[j];
        if (a.k === c.k) continue;
        const ox = Math.min(a.b.right, c.b.right) - Math.max(a.b.left, c.b.left);
        const oy = Math.min(a.b.bottom, c.b.bottom) - Math.max(a.b.top, c.b.top);
        if (ox > 1 && oy > 1) bad.push([a.text, c.text]);
      }
    }
  }
  return bad;
}"""

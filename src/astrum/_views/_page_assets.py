"""The run page's fixed parts: its stylesheet and the few lines of script for tooltips.

Inlined into every page by :func:`astrum._views._html.render_page`, so the
file needs nothing from the network.
"""

__all__ = ["CSS", "SCRIPT"]

CSS = """
:root{--ok:#2e9d5b;--fail:#d64545;--cancel:#8e63b5;--skip:#a8a8a8;--cache:#4f86e0;
--queue:#f1c46b;--hot:#e0a100;--ink:#1d2330;--muted:#6b7280;--line:#d9dde5}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;
color:var(--ink);margin:0;padding:16px 24px;background:#fafbfc}
h1{font-size:20px;margin:0 0 8px}h2{font-size:16px;margin:18px 0 6px}
header dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:0}
header dt{color:var(--muted)}header dd{margin:0}
.state{padding:1px 8px;border-radius:10px;color:#fff;background:var(--muted)}
.state.completed{background:var(--ok)}.state.failed{background:var(--fail)}
.state.cancelled{background:var(--cancel)}
.errors{color:var(--fail);margin:8px 0 0;padding-left:18px}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:8px 12px;
margin-top:14px}
.scroll{overflow:auto;max-width:100%}.scroll.tall{max-height:70vh}
.note{color:var(--muted);margin:4px 0}
svg text{font-size:11px;fill:var(--ink)}
.node rect{fill:#fff;stroke:#9aa3b2;stroke-width:1.2}
.node.hot rect{stroke:var(--hot);stroke-width:3}
.node.completed rect{fill:#d7f0e0}.node.failed rect{fill:#f8d4d4}
.node.cancelled rect{fill:#e7dcf2}.node.skipped rect{fill:#eee}.node.cached rect{fill:#dbe7fb}
.node.not-started rect{stroke-dasharray:4 3}
.edge{fill:none;stroke:#aab2c0;stroke-width:1.2}.edge.hot{stroke:var(--hot);stroke-width:2.5}
.edge-label{font-size:9.5px;fill:var(--muted);text-anchor:middle}
.tick{stroke:#eef0f4}.tick-label{fill:var(--muted);font-size:10px}
.row-label{text-anchor:end}.row-label.hot{font-weight:600;fill:#9a6b00}
.bar{stroke:none}.bar.completed{fill:var(--ok)}.bar.failed{fill:var(--fail)}
.bar.cancelled{fill:var(--cancel)}.bar.skipped{fill:var(--skip)}.bar.cached{fill:var(--cache)}
.bar.queued{fill:var(--queue)}.bar.hot{stroke:var(--hot);stroke-width:2}
.group{fill:#c9ced8}.density.completed{fill:var(--ok)}.density.failed{fill:var(--fail)}
.hit{fill:transparent}
.legend{color:var(--muted);font-size:12px}.key{display:inline-block;width:12px;height:10px;
margin:0 4px 0 10px;border-radius:2px;background:var(--ok)}
.key.queued{background:var(--queue)}.key.failed{background:var(--fail)}
.key.cancelled{background:var(--cancel)}.key.skipped{background:var(--skip)}
.key.cached{background:var(--cache)}.key.hot{background:#fff;border:2px solid var(--hot)}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:3px 8px;
border-bottom:1px solid #eef0f4;vertical-align:top;white-space:nowrap}
td:last-child{white-space:normal}th{position:sticky;top:0;background:#fff}
tr.hot td:first-child{font-weight:600}
.pill{padding:0 6px;border-radius:8px;background:#eee}.pill.completed{background:#d7f0e0}
.pill.failed{background:#f8d4d4}.pill.cancelled{background:#e7dcf2}.pill.cached{background:#dbe7fb}
details pre{white-space:pre-wrap;font-size:12px;background:#f6f7f9;padding:6px;margin:4px 0}
summary{cursor:pointer;color:var(--fail)}
.levels{display:flex;flex-wrap:wrap;gap:8px}.level{border:1px solid var(--line);
border-radius:6px;padding:4px 8px;min-width:130px}
.mix{display:flex;height:8px;margin-top:4px;border-radius:3px;overflow:hidden}
.mix span{background:var(--ok)}.mix .failed{background:var(--fail)}
.mix .cancelled{background:var(--cancel)}.mix .skipped{background:var(--skip)}
.mix .cached{background:var(--cache)}.mix .not-started{background:#e5e7eb}
#tip{position:fixed;display:none;pointer-events:none;background:#1d2330;color:#fff;
padding:5px 8px;border-radius:5px;font-size:12px;white-space:pre-line;max-width:420px;z-index:9}
"""

# Tooltips for anything carrying data-tip; the page reads fine without it.
SCRIPT = """
(function(){var tip=document.getElementById('tip');
function show(e){var t=e.target.closest?e.target.closest('[data-tip]'):null;
if(!t){tip.style.display='none';return;}tip.textContent=t.getAttribute('data-tip');
tip.style.display='block';var x=e.clientX+14,y=e.clientY+14;
if(x+tip.offsetWidth>innerWidth)x=e.clientX-tip.offsetWidth-8;
if(y+tip.offsetHeight>innerHeight)y=e.clientY-tip.offsetHeight-8;
tip.style.left=x+'px';tip.style.top=y+'px';}
document.addEventListener('mouseover',show);document.addEventListener('mousemove',show);
})();
"""

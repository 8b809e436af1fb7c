"""The fixed CSS and JavaScript of the HTML report (``reporters/html.py``).

Kept apart from the data so their sha256 hashes (the page's Content-Security-Policy) are
those of constant text. The script never parses host text as HTML: every host string reaches
the page through ``textContent`` or ``setAttribute`` only.

Speed for 1,000 hosts x 300 pins (300,000 findings): filters run over flat arrays, the text
search tests each distinct string once, and only ``PAGE`` host rows (and ``PAGE * 2`` list
rows) are put in the DOM at a time, with a "show more" button (``benchmarks/report.py``).
"""

from __future__ import annotations

CSS = """
:root{color-scheme:light;--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--bg2:#f6f8fa}
*{box-sizing:border-box}
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);margin:0;
padding:12px;max-width:100%;overflow-wrap:break-word}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:18px 0 6px}
.muted{color:var(--muted)}
.verdict{font-weight:600}
.counts{display:flex;flex-wrap:wrap;gap:4px;padding:0;margin:8px 0;list-style:none}
.counts li{padding:2px 8px;border-radius:10px;border:1px solid var(--line)}
#filters{display:flex;flex-wrap:wrap;gap:8px;align-items:end;padding:8px;background:var(--bg2);
border:1px solid var(--line);border-radius:6px;margin:10px 0}
#filters label{display:flex;flex-direction:column;font-size:12px;color:var(--muted);
min-width:0;flex:1 1 140px}
#filters select,#filters input{font:inherit;padding:4px;min-width:0;width:100%}
#status{flex:1 1 100%;font-size:12px;color:var(--muted);margin:0}
.scroll{overflow-x:auto;max-width:100%;border:1px solid var(--line);border-radius:6px}
table{border-collapse:collapse}
.matrix{font-size:12px}
/* Host text keeps its own direction inside its box: it cannot reorder its neighbours. */
.matrix th,.matrix td,.list td,#detail dd,#failed,.legend li{unicode-bidi:isolate}
.matrix th,.matrix td{border:1px solid var(--line);padding:2px 4px;text-align:center;
white-space:nowrap}
.matrix thead th{background:var(--bg2);font-weight:600;max-width:140px;overflow:hidden;
text-overflow:ellipsis}
.matrix th.host{position:sticky;left:0;background:#fff;text-align:left;max-width:180px;
overflow:hidden;text-overflow:ellipsis;z-index:1}
.matrix td.cell{cursor:pointer;min-width:22px}
.matrix td.none{background:#fff;color:#c9d1d9}
.matrix td.host-status{text-align:left}
#detail{border:1px solid var(--line);border-radius:6px;padding:8px;margin:8px 0;
background:var(--bg2)}
#detail dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 10px;margin:0}
#detail dt{color:var(--muted)}#detail dd{margin:0}
.list{width:100%;font-size:13px}
.list th,.list td{border-bottom:1px solid var(--line);padding:3px 6px;text-align:left;
vertical-align:top;min-width:4em;max-width:24em;overflow-wrap:anywhere}
#detail dd,#failed,#hosts{overflow-wrap:anywhere}
button.more{margin:8px 0;font:inherit;padding:4px 10px}
.k-ok{background:#dafbe1}.k-drift{background:#ffcecb}.k-missing{background:#e8d5ff}
.k-unsupported-os{background:#ffd8b5}.k-unpinned{background:#eaeef2}
.k-waived{background:#cfe2ff}.k-inconsistent{background:#fff1a8}
.k-mixed-os{background:#ffd8b5}.k-not-installable{background:#ffc0e0}
.k-not-in-inventory{background:#d8dee4}
.k-fail{background:#8c1d18;color:#fff}
svg.trend{max-width:100%;height:auto;background:#fff;border:1px solid var(--line);
border-radius:6px}
svg.trend text{font:11px system-ui,sans-serif;fill:#57606a}
.legend{display:flex;flex-wrap:wrap;gap:4px 12px;padding:0;list-style:none;font-size:12px}
.swatch{display:inline-block;width:10px;height:10px;margin-right:4px}
@media (max-width:600px){
 body{padding:6px}
 .list thead{display:none}
 .list tr{display:block;border-bottom:2px solid var(--line);padding:4px 0}
 .list td{display:block;border:0;padding:1px 4px;overflow-wrap:anywhere}
 .list td::before{content:attr(data-label) ": ";color:var(--muted)}
}
@media print{
 #filters,button.more,#detail{display:none}
 body{padding:0;font-size:11px}
 .scroll{overflow:visible;border:0}
 .matrix th.host{position:static}
 *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 section.env,tr{break-inside:avoid}
}
"""

JS = r"""
"use strict";
(function () {
const D = JSON.parse(document.getElementById("pinmgr-data").textContent);
const S = D.strings, H = D.hosts, P = D.packages, F = D.findings, K = D.kinds;
const PAGE = 100;
const SYMBOL = D.symbols;
const FAIL = new Set(D.host_failures);
const QUIET = new Set(["ok", "unpinned", "waived"]);
const state = {env: "", role: "", eco: "", kind: "", q: "", rows: PAGE, items: PAGE * 2};
let view = null;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
// Long host strings are cut in the matrix and list (the detail box shows them whole).
const LONG = 120;
function short(s) {
  return s.length > LONG ? s.slice(0, LONG) + "\u2026 (" + s.length + " chars)" : s;
}
function pkgName(p) { return p < 0 ? "" : (S[P[p][0]] ? S[P[p][0]] + ":" : "") + S[P[p][1]]; }
function kindClass(k) { return FAIL.has(k) ? "k-fail" : "k-" + k; }
function describe(f) {
  const k = K[f[2]];
  let text = pkgName(f[1]) || S[H[f[0]][0]];
  text += " \u2014 " + k + (f[6] ? " (" + f[6] + ")" : "");
  if (S[f[3]] || S[f[4]]) {
    text += "; expected " + (S[f[3]] || "-") + ", installed " + (S[f[4]] || "-");
  }
  if (S[f[5]]) text += "; " + S[f[5]];
  return text;
}

function options(id, values) {
  const sel = document.getElementById(id);
  for (const v of values) { const o = el("option", "", v); o.value = v; sel.appendChild(o); }
}
function distinct(list) { return Array.from(new Set(list)).sort(); }

function compute() {
  const q = state.q.toLowerCase();
  let strOk = null;
  if (q) {
    strOk = new Uint8Array(S.length);
    for (let i = 0; i < S.length; i++) if (S[i].toLowerCase().includes(q)) strOk[i] = 1;
  }
  const hostOk = new Uint8Array(H.length);
  for (let h = 0; h < H.length; h++) {
    const r = H[h];
    const envOk = !state.env || S[r[1]] === state.env;
    hostOk[h] = envOk && (!state.role || S[r[2]] === state.role) ? 1 : 0;
  }
  const byHost = new Map();
  const cols = new Map();
  const items = [];
  const kindWanted = state.kind;
  for (let i = 0; i < F.length; i++) {
    const f = F[i], h = f[0];
    if (!hostOk[h]) continue;
    const k = K[f[2]];
    if (kindWanted && !(kindWanted === "problems" ? !QUIET.has(k) : k === kindWanted)) continue;
    if (state.eco && (f[1] < 0 || S[P[f[1]][0]] !== state.eco)) continue;
    if (strOk && !(strOk[H[h][0]] || (f[1] >= 0 && strOk[P[f[1]][1]]) || strOk[f[3]] ||
        strOk[f[4]] || strOk[f[5]])) continue;
    let row = byHost.get(h);
    if (!row) { row = {status: [], cells: new Map()}; byHost.set(h, row); }
    if (f[1] < 0) row.status.push(i);
    else {
      const env = H[h][1];
      let c = cols.get(env);
      if (!c) { c = new Set(); cols.set(env, c); }
      c.add(f[1]);
      const cell = row.cells.get(f[1]);
      if (cell) cell.push(i); else row.cells.set(f[1], [i]);
    }
    if (!QUIET.has(k) || kindWanted) items.push(i);
  }
  return {byHost, cols, items};
}

function renderMatrix() {
  const root = document.getElementById("matrix");
  root.textContent = "";
  const envs = new Map();
  for (const h of view.byHost.keys()) {
    const env = H[h][1];
    if (!envs.has(env)) envs.set(env, []);
    envs.get(env).push(h);
  }
  let shown = 0;
  for (const [env, hosts] of envs) {
    if (shown >= state.rows) break;
    const sec = el("section", "env");
    sec.dataset.env = S[env];
    const plural = hosts.length === 1 ? "" : "s";
    sec.appendChild(el("h3", "", S[env] + " (" + hosts.length + " host" + plural + ")"));
    const cols = Array.from(view.cols.get(env) || []);
    cols.sort((a, b) => (pkgName(a) < pkgName(b) ? -1 : 1));
    const table = el("table", "matrix");
    const head = el("tr");
    head.appendChild(el("th", "host", "host"));
    head.appendChild(el("th", "", "role"));
    head.appendChild(el("th", "", "status"));
    for (const p of cols) {
      const th = el("th", "", short(pkgName(p)));
      th.title = pkgName(p);
      head.appendChild(th);
    }
    table.appendChild(el("thead")).appendChild(head);
    const body = el("tbody");
    const frag = document.createDocumentFragment();
    for (const h of hosts) {
      if (shown >= state.rows) break;
      shown++;
      const row = view.byHost.get(h);
      const tr = el("tr");
      tr.dataset.host = S[H[h][0]];
      const name = el("th", "host", short(S[H[h][0]]));
      name.title = S[H[h][0]];
      tr.appendChild(name);
      tr.appendChild(el("td", "", S[H[h][2]]));
      const st = el("td", "host-status");
      if (row.status.length) {
        const f = F[row.status[0]];
        st.className = "host-status cell " + kindClass(K[f[2]]);
        st.textContent = row.status.map((i) => K[F[i][2]]).join(", ");
        st.dataset.f = row.status.join(" ");
        st.title = row.status.map((i) => describe(F[i])).join("\n");
      }
      tr.appendChild(st);
      for (const p of cols) {
        const list = row.cells.get(p);
        if (!list) { tr.appendChild(el("td", "none", "\u00b7")); continue; }
        const f = F[list[0]], k = K[f[2]];
        const arrow = f[6] === "older" ? "\u2193" : f[6] === "newer" ? "\u2191" : "";
        const td = el("td", "cell " + kindClass(k), (SYMBOL[k] || "?") + arrow);
        td.dataset.kind = k;
        td.dataset.package = pkgName(p);
        td.dataset.f = list.join(" ");
        td.title = list.map((i) => describe(F[i])).join("\n");
        tr.appendChild(td);
      }
      frag.appendChild(tr);
    }
    body.appendChild(frag);
    table.appendChild(body);
    const scroll = el("div", "scroll");
    scroll.appendChild(table);
    sec.appendChild(scroll);
    root.appendChild(sec);
  }
  const more = document.getElementById("more-hosts");
  more.hidden = shown >= view.byHost.size;
  more.textContent = "Show more hosts (" + (view.byHost.size - shown) + " more)";
  return shown;
}

function renderList() {
  const body = document.getElementById("list-body");
  body.textContent = "";
  const frag = document.createDocumentFragment();
  const n = Math.min(view.items.length, state.items);
  const labels = ["env", "host", "role", "package", "result", "expected", "installed", "reason"];
  for (let j = 0; j < n; j++) {
    const i = view.items[j], f = F[i], h = H[f[0]];
    const k = K[f[2]];
    const tr = el("tr");
    tr.dataset.f = String(i);
    const cells = [S[h[1]], S[h[0]], S[h[2]], pkgName(f[1]), k + (f[6] ? " (" + f[6] + ")" : ""),
      S[f[3]], S[f[4]], S[f[5]]];
    cells.forEach((text, c) => {
      const td = el("td", c === 4 ? kindClass(k) : "", short(text));
      td.dataset.label = labels[c];
      tr.appendChild(td);
    });
    frag.appendChild(tr);
  }
  body.appendChild(frag);
  const more = document.getElementById("more-items");
  more.hidden = n >= view.items.length;
  more.textContent = "Show more findings (" + (view.items.length - n) + " more)";
  document.getElementById("list-count").textContent = String(view.items.length);
}

function showDetail(ids) {
  const box = document.getElementById("detail");
  box.textContent = "";
  for (const i of ids) {
    const f = F[i], h = H[f[0]];
    const dl = el("dl");
    const rows = [["host", S[h[0]]], ["environment", S[h[1]]], ["role", S[h[2]]],
      ["OS release", S[h[3]]], ["package", pkgName(f[1])],
      ["result", K[f[2]] + (f[6] ? " (" + f[6] + ")" : "")],
      ["expected", S[f[3]]], ["installed", S[f[4]]], ["reason", S[f[5]]]];
    for (const [k, v] of rows) {
      if (!v) continue;
      const dd = el("dd", "", v);
      dd.dataset.field = k;
      dl.appendChild(el("dt", "", k));
      dl.appendChild(dd);
    }
    box.appendChild(dl);
  }
  box.hidden = false;
}

function apply() {
  view = compute();
  const shown = renderMatrix();
  renderList();
  const status = document.getElementById("status");
  status.textContent = view.byHost.size + " host(s) match; " + shown + " shown in the matrix; " +
    view.items.length + " finding(s) listed.";
  document.body.dataset.ready = String(Number(document.body.dataset.ready || 0) + 1);
}

options("f-env", distinct(H.map((h) => S[h[1]])));
options("f-role", distinct(H.map((h) => S[h[2]])));
options("f-eco", distinct(P.map((p) => S[p[0]]).filter((e) => e)));
options("f-kind", ["problems"].concat(distinct(F.map((f) => K[f[2]]))));
const SELECTS = [["f-env", "env"], ["f-role", "role"], ["f-eco", "eco"], ["f-kind", "kind"]];
for (const [id, key] of SELECTS) {
  document.getElementById(id).addEventListener("change", (ev) => {
    state[key] = ev.target.value; state.rows = PAGE; state.items = PAGE * 2; apply();
  });
}
document.getElementById("f-q").addEventListener("input", (ev) => {
  state.q = ev.target.value; state.rows = PAGE; state.items = PAGE * 2; apply();
});
document.getElementById("filters").addEventListener("submit", (ev) => ev.preventDefault());
document.getElementById("more-hosts").addEventListener("click", () => {
  state.rows += PAGE; renderMatrix();
});
document.getElementById("more-items").addEventListener("click", () => {
  state.items += PAGE * 2; renderList();
});
document.getElementById("matrix").addEventListener("click", (ev) => {
  const td = ev.target.closest("[data-f]");
  if (td) showDetail(td.dataset.f.split(" ").map(Number));
});
document.getElementById("list-body").addEventListener("click", (ev) => {
  const tr = ev.target.closest("[data-f]");
  if (tr) showDetail([Number(tr.dataset.f)]);
});
apply();
})();
"""

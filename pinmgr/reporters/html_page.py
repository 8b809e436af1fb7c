"""The fixed CSS and JavaScript of the HTML report (``reporters/html.py``).

Kept apart from the data so their sha256 hashes (the page's Content-Security-Policy) are
those of constant text. The script never parses host text as HTML: every host string reaches
the page through ``textContent`` or ``setAttribute`` only.

Speed for 1,000 hosts x 300 pins (300,000 findings): filters run over flat arrays, the text
search tests each distinct string once, and only ``PAGE`` host rows (and ``PAGE * 4`` list
rows) are put in the DOM at a time, with a "show more" button; tooltips are made on first
hover (``benchmarks/report.py``, docs/benchmarks.md).
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
/* Fixed layout (widths from <col>, table width set by the script): the browser lays out a
   15,000-cell page without measuring every cell's content. */
.matrix{font-size:12px;table-layout:fixed}
.matrix col.c-host{width:170px}.matrix col.c-role{width:70px}.matrix col.c-status{width:96px}
.matrix col.c-pkg{width:28px}
.matrix thead th.pkg{writing-mode:vertical-rl;transform:rotate(180deg);height:130px;
text-align:left;vertical-align:bottom;padding:4px 0}
/* Host text keeps its own direction inside its box: it cannot reorder its neighbours. */
.matrix th,.matrix td.role,.list td,#detail dd,#failed,.legend li{unicode-bidi:isolate}
/* Clipping only where host text is (headers, host and role): per-cell clipping of 15,000
   cells was a third of a filter's layout time (benchmarks/report.py). */
.matrix th,.matrix td{border:1px solid var(--line);padding:2px 0;text-align:center;
white-space:nowrap}
.matrix th,.matrix td.role,.matrix td.host-status{overflow:hidden;text-overflow:ellipsis}
.matrix thead th{background:var(--bg2);font-weight:600}
.matrix th.host{position:sticky;left:0;background:#fff;text-align:left;padding:2px 4px;
z-index:1}
.matrix td.cell{cursor:pointer}
.matrix td.none{background:#fff;color:#c9d1d9}
.matrix td.host-status{text-align:left;padding:2px 4px}
#detail{border:1px solid var(--line);border-radius:6px;padding:8px;margin:8px 0;
background:var(--bg2)}
#detail dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 10px;margin:0}
#detail dt{color:var(--muted)}#detail dd{margin:0}
.list{width:100%;font-size:13px}
.list th,.list td{border-bottom:1px solid var(--line);padding:3px 6px;text-align:left;
vertical-align:top;min-width:6.5em;max-width:24em;overflow-wrap:anywhere}
#detail dd,#failed,#hosts{overflow-wrap:anywhere}
button.more{margin:8px 0;font:inherit;padding:4px 10px}
.k-ok{background:#dafbe1}.k-drift{background:#ffcecb}.k-missing{background:#e8d5ff}
.k-unsupported-os{background:#ffd8b5}.k-unpinned{background:#eaeef2}
.k-waived{background:#cfe2ff}.k-inconsistent{background:#fff1a8}
.k-mixed-os{background:#ffd8b5}.k-not-installable{background:#ffc0e0}
.k-not-in-inventory{background:#d8dee4}.k-not-checked{background:#d8dee4}
.k-security-update{background:#ff8a80}
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
 .list td:empty{display:none}
 .matrix col.c-host{width:104px}.matrix col.c-role{width:40px}.matrix col.c-status{width:56px}
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
performance.mark("pinmgr-start");
const D = JSON.parse(document.getElementById("pinmgr-data").textContent);
performance.mark("pinmgr-parsed");
// F is flat, W numbers per finding: host, package (-1: none), kind, expected, installed,
// reason, direction; a host's findings are contiguous (from[h] .. to[h]).
const S = D.strings, H = D.hosts, P = D.packages, F = D.findings, K = D.kinds, W = 7;
const DIR = D.directions, N = F.length / W;
const PAGE = 30;  // host rows per matrix page: 30 x 300 pins is 9,000 cells to lay out
const NARROW = matchMedia("(max-width: 600px)");  // as the stylesheet's narrow columns
const SYMBOL = D.symbols;
const FAIL = new Set(D.host_failures);
const QUIET = new Set(["ok", "unpinned", "waived"]);
const state = {env: "", role: "", eco: "", kind: "", q: "", rows: PAGE, items: PAGE * 4};
const from = new Int32Array(H.length).fill(-1), to = new Int32Array(H.length);
for (let i = 0; i < N; i++) {
  const h = F[i * W];
  if (from[h] < 0) from[h] = i;
  to[h] = i + 1;
}
const names = P.map((p, i) => i).sort((a, b) => (pkgName(a) < pkgName(b) ? -1 : 1));
const rank = new Int32Array(P.length);
names.forEach((p, r) => { rank[p] = r; });
let lower = null;
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
function result(i) {
  const d = DIR[F[i * W + 6]];
  return K[F[i * W + 2]] + (d ? " (" + d + ")" : "");
}
function describe(i) {
  const o = i * W;
  let text = (pkgName(F[o + 1]) || S[H[F[o]][0]]) + " \u2014 " + result(i);
  if (S[F[o + 3]] || S[F[o + 4]]) {
    text += "; expected " + (S[F[o + 3]] || "-") + ", installed " + (S[F[o + 4]] || "-");
  }
  if (S[F[o + 5]]) text += "; " + S[F[o + 5]];
  return text;
}

function options(id, values) {
  const sel = document.getElementById(id);
  for (const v of values) { const o = el("option", "", v); o.value = v; sel.appendChild(o); }
}
function distinct(list) { return Array.from(new Set(list)).sort(); }

// The filters as one test of finding i (hosts are tested once per filter change).
function predicate() {
  const q = state.q.toLowerCase();
  let strOk = null;
  if (q) {
    if (!lower) lower = S.map((s) => s.toLowerCase());
    strOk = new Uint8Array(S.length);
    for (let i = 0; i < S.length; i++) if (lower[i].includes(q)) strOk[i] = 1;
  }
  const hostOk = new Uint8Array(H.length);
  for (let h = 0; h < H.length; h++) {
    const envOk = !state.env || S[H[h][1]] === state.env;
    hostOk[h] = envOk && (!state.role || S[H[h][2]] === state.role) ? 1 : 0;
  }
  const kindOk = new Uint8Array(K.length);
  K.forEach((k, n) => {
    const want = state.kind;
    kindOk[n] = !want || (want === "problems" ? !QUIET.has(k) : k === want) ? 1 : 0;
  });
  const ecoOk = new Uint8Array(P.length);
  P.forEach((p, n) => { ecoOk[n] = !state.eco || S[p[0]] === state.eco ? 1 : 0; });
  const hostText = new Uint8Array(H.length);
  if (strOk) for (let h = 0; h < H.length; h++) hostText[h] = strOk[H[h][0]];
  return function (i) {
    const o = i * W, h = F[o], p = F[o + 1];
    if (!hostOk[h] || !kindOk[F[o + 2]]) return false;
    if (state.eco && (p < 0 || !ecoOk[p])) return false;
    if (strOk && !(hostText[h] || (p >= 0 && strOk[P[p][1]]) || strOk[F[o + 3]] ||
        strOk[F[o + 4]] || strOk[F[o + 5]])) return false;
    return true;
  };
}

function compute() {
  const keep = predicate();
  const hosts = [];
  const cols = new Map();
  const items = [];
  const listAll = state.kind !== "";
  for (let h = 0; h < H.length; h++) {
    if (from[h] < 0) continue;
    let any = false;
    let c = null;
    for (let i = from[h]; i < to[h]; i++) {
      if (!keep(i)) continue;
      any = true;
      const p = F[i * W + 1];
      if (p >= 0) {
        if (!c) {
          c = cols.get(H[h][1]);
          if (!c) { c = new Uint8Array(P.length); cols.set(H[h][1], c); }
        }
        c[p] = 1;
      }
      if (listAll || !QUIET.has(K[F[i * W + 2]])) items.push(i);
    }
    if (any) hosts.push(h);
  }
  return {keep, hosts, cols, items};
}

function cellFor(td, list) {
  const i = list[0], k = K[F[i * W + 2]], d = DIR[F[i * W + 6]];
  td.className = "cell " + kindClass(k);
  td.textContent = (SYMBOL[k] || "?") + (d === "older" ? "\u2193" : d === "newer" ? "\u2191" : "");
  td.dataset.kind = k;
  td.dataset.f = list.join(" ");
}

function renderMatrix() {
  const root = document.getElementById("matrix");
  root.textContent = "";
  const envs = new Map();
  for (const h of view.hosts) {
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
    const mark = view.cols.get(env);
    const cols = mark ? names.filter((p) => mark[p]) : [];
    const at = new Int32Array(P.length).fill(-1);
    cols.forEach((p, n) => { at[p] = n; });
    const table = el("table", "matrix");
    const group = el("colgroup");
    for (const c of ["c-host", "c-role", "c-status"]) group.appendChild(el("col", c));
    for (let n = 0; n < cols.length; n++) group.appendChild(el("col", "c-pkg"));
    table.appendChild(group);
    table.style.width = (NARROW.matches ? 200 : 336) + 28 * cols.length + "px";
    const head = el("tr");
    head.appendChild(el("th", "host", "host"));
    head.appendChild(el("th", "", "role"));
    head.appendChild(el("th", "", "status"));
    for (const p of cols) {
      const th = el("th", "pkg", short(pkgName(p)));
      th.title = pkgName(p);
      head.appendChild(th);
    }
    table.appendChild(el("thead")).appendChild(head);
    const body = el("tbody");
    for (const h of hosts) {
      if (shown >= state.rows) break;
      shown++;
      const tr = el("tr");
      tr.dataset.host = S[H[h][0]];
      tr.appendChild(el("th", "host", short(S[H[h][0]])));
      tr.appendChild(el("td", "role", short(S[H[h][2]])));
      const status = [], cells = new Array(cols.length);
      for (let i = from[h]; i < to[h]; i++) {
        if (!view.keep(i)) continue;
        const p = F[i * W + 1];
        if (p < 0) status.push(i);
        else if (cells[at[p]]) cells[at[p]].push(i);
        else cells[at[p]] = [i];
      }
      const st = el("td", "host-status");
      if (status.length) {
        cellFor(st, status);
        st.className += " host-status";
        st.textContent = status.map((i) => K[F[i * W + 2]]).join(", ");
      }
      tr.appendChild(st);
      for (let n = 0; n < cols.length; n++) {
        const td = document.createElement("td");
        if (cells[n]) {
          cellFor(td, cells[n]);
          td.dataset.package = pkgName(cols[n]);
        } else {
          td.className = "none";
        }
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
    table.appendChild(body);
    const scroll = el("div", "scroll");
    scroll.appendChild(table);
    sec.appendChild(scroll);
    root.appendChild(sec);
  }
  const more = document.getElementById("more-hosts");
  more.hidden = shown >= view.hosts.length;
  more.textContent = "Show more hosts (" + (view.hosts.length - shown) + " more)";
  return shown;
}

function renderList() {
  const body = document.getElementById("list-body");
  body.textContent = "";
  const n = Math.min(view.items.length, state.items);
  const labels = ["env", "host", "role", "package", "result", "expected", "installed", "reason"];
  for (let j = 0; j < n; j++) {
    const i = view.items[j], o = i * W, h = H[F[o]];
    const tr = el("tr");
    tr.dataset.f = String(i);
    const cells = [S[h[1]], S[h[0]], S[h[2]], pkgName(F[o + 1]), result(i),
      S[F[o + 3]], S[F[o + 4]], S[F[o + 5]]];
    cells.forEach((text, c) => {
      const td = el("td", c === 4 ? kindClass(K[F[o + 2]]) : "", short(text));
      td.dataset.label = labels[c];
      tr.appendChild(td);
    });
    body.appendChild(tr);
  }
  const more = document.getElementById("more-items");
  more.hidden = n >= view.items.length;
  more.textContent = "Show more findings (" + (view.items.length - n) + " more)";
  document.getElementById("list-count").textContent = String(view.items.length);
}

function showDetail(ids) {
  const box = document.getElementById("detail");
  box.textContent = "";
  for (const i of ids) {
    const o = i * W, h = H[F[o]];
    const dl = el("dl");
    const rows = [["host", S[h[0]]], ["environment", S[h[1]]], ["role", S[h[2]]],
      ["OS release", S[h[3]]], ["package", pkgName(F[o + 1])], ["result", result(i)],
      ["expected", S[F[o + 3]]], ["installed", S[F[o + 4]]], ["reason", S[F[o + 5]]]];
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
  performance.mark("pinmgr-filter");
  view = compute();
  performance.mark("pinmgr-computed");
  const shown = renderMatrix();
  performance.mark("pinmgr-matrix");
  renderList();
  performance.mark("pinmgr-listed");
  const status = document.getElementById("status");
  status.textContent = view.hosts.length + " host(s) match; " + shown + " shown in the matrix; " +
    view.items.length + " finding(s) listed.";
  document.body.dataset.ready = String(Number(document.body.dataset.ready || 0) + 1);
}

options("f-env", distinct(H.map((h) => S[h[1]])));
options("f-role", distinct(H.map((h) => S[h[2]])));
options("f-eco", distinct(P.map((p) => S[p[0]]).filter((e) => e)));
const seen = new Uint8Array(K.length);
for (let i = 0; i < N; i++) seen[F[i * W + 2]] = 1;
options("f-kind", ["problems"].concat(K.filter((k, n) => seen[n])));
const SELECTS = [["f-env", "env"], ["f-role", "role"], ["f-eco", "eco"], ["f-kind", "kind"]];
for (const [id, key] of SELECTS) {
  document.getElementById(id).addEventListener("change", (ev) => {
    state[key] = ev.target.value; state.rows = PAGE; state.items = PAGE * 4; apply();
  });
}
document.getElementById("f-q").addEventListener("input", (ev) => {
  state.q = ev.target.value; state.rows = PAGE; state.items = PAGE * 4; apply();
});
document.getElementById("filters").addEventListener("submit", (ev) => ev.preventDefault());
document.getElementById("more-hosts").addEventListener("click", () => {
  state.rows += PAGE; renderMatrix();
});
document.getElementById("more-items").addEventListener("click", () => {
  state.items += PAGE * 4; renderList();
});
const matrix = document.getElementById("matrix");
matrix.addEventListener("click", (ev) => {
  const td = ev.target.closest("[data-f]");
  if (td) showDetail(td.dataset.f.split(" ").map(Number));
});
// Tooltips are made when first pointed at: 15,000 cells need no title until then.
matrix.addEventListener("mouseover", (ev) => {
  const td = ev.target.closest("[data-f]");
  if (td && !td.title) {
    td.title = td.dataset.f.split(" ").map((i) => describe(Number(i))).join("\n");
  }
});
document.getElementById("list-body").addEventListener("click", (ev) => {
  const tr = ev.target.closest("[data-f]");
  if (tr) showDetail([Number(tr.dataset.f)]);
});
apply();
// For benchmarks/report.py: where the time goes (marks are a few bytes each, kept as they come).
performance.mark("pinmgr-rendered");
})();
"""

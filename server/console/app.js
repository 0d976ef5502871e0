// The console: the tables and sources panels (refreshed every second from /v1/tables and
// /v1/sources), a source's dead letters, and the query editor (result grid, EXPLAIN, chart,
// history in localStorage, CSV download).

import { ApiError, getJSON, query } from "/console/api.js";
import { drawChart } from "/console/chart.js";
import { bytes, count, fillRows, renderResult, show } from "/console/grid.js";

const $ = (selector) => document.querySelector(selector);
const HISTORY_KEY = "oxbow.console.history";
const HISTORY_MAX = 50;

let shownDeadLetters = null;   // the source whose dead letters are open
let result = { columns: [], rows: [], sql: "" };

// ---- tables and sources -------------------------------------------------------------------

function qualified(schema, name) {
  return schema === "public" ? name : `${schema}.${name}`;
}

async function refreshTables() {
  const { tables } = await getJSON("/v1/tables");
  fillRows($("#tables tbody"), tables, (t) => `${t.schema_name}.${t.table_name}`, (t) => [
    { text: qualified(t.schema_name, t.table_name), cls: "name", title: t.location },
    { text: count(t.hot_rows), cls: "num hot_rows" },
    { text: bytes(t.hot_bytes), cls: "num hot_bytes", title: `${t.hot_bytes} bytes` },
    { text: count(t.hot_batches), cls: "num hot_batches" },
    { text: String(t.delta_version), cls: "num delta_version" },
    { text: count(t.delta_files), cls: "num delta_files" },
    { text: count(t.flushed_seq), cls: "num flushed_seq" },
    { text: t.status, cls: t.status === "ok" ? "status ok" : "status bad" },
  ]);
}

function eventLag(source) {
  if (!source.last_event_time) return "";
  const ms = Date.now() - Date.parse(source.last_event_time);
  return Number.isNaN(ms) ? "" : `${(Math.max(ms, 0) / 1000).toFixed(1)} s`;
}

async function refreshSources() {
  const { sources } = await getJSON("/v1/sources");
  fillRows($("#sources tbody"), sources, (s) => `${s.schema_name}.${s.source_name}`, (s) => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "dead letters";
    button.className = "dead-letters";
    button.addEventListener("click", () => showDeadLetters(`${s.schema_name}.${s.source_name}`));
    return [
      { text: qualified(s.schema_name, s.source_name), cls: "name", title: s.definition },
      { text: s.connector, cls: "connector" },
      { text: s.target_table, cls: "target" },
      { text: s.status, cls: `status ${s.status}` },
      { text: count(s.rows_in), cls: "num rows_in" },
      { text: Number(s.rows_per_second).toFixed(1), cls: "num rows_per_second" },
      { text: s.lag === null ? "" : count(s.lag), cls: "num lag" },
      { text: eventLag(s), cls: "num event_lag", title: s.last_event_time ?? "" },
      { text: count(s.rows_rejected), cls: "num rows_rejected" },
      { text: s.last_error ?? "", cls: "last_error" },
      { node: button },
    ];
  });
  if (shownDeadLetters) await refreshDeadLetters();
}

async function showDeadLetters(source) {
  shownDeadLetters = source;
  $("#dead-letters-source").textContent = source;
  $("#dead-letters-panel").hidden = false;
  await refreshDeadLetters();
}

async function refreshDeadLetters() {
  const source = shownDeadLetters;
  const { dead_letters } = await getJSON(`/v1/sources/${encodeURIComponent(source)}/dead_letters?limit=100`);
  if (source !== shownDeadLetters) return;
  fillRows($("#dead-letters tbody"), dead_letters, (d, i) => String(i), (d) => [
    { text: d.received_at },
    { text: d.stage },
    { text: d.field ?? "" },
    { text: d.error, cls: "error-text" },
    { text: d.payload ?? "", cls: "payload" },
    { text: d.position ?? "" },
  ]);
}

async function refreshReady() {
  const badge = $("#ready");
  try {
    const r = await fetch("/ready");
    const body = await r.json();
    badge.textContent = r.ok ? `ready · ${body.tables} tables` : body.status;
    badge.className = `badge ${r.ok ? "ok" : "bad"}`;
  } catch (e) {
    badge.textContent = "unreachable";
    badge.className = "badge bad";
  }
}

async function refresh() {
  try {
    await Promise.all([refreshTables(), refreshSources(), refreshReady()]);
    $("#updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    $("#updated").textContent = `refresh failed: ${e.message}`;
  }
}

// ---- query editor -------------------------------------------------------------------------

function history() {
  try { return JSON.parse(localStorage.getItem(HISTORY_KEY) ?? "[]"); } catch (_) { return []; }
}

function remember(sql) {
  const list = [sql, ...history().filter((q) => q !== sql)].slice(0, HISTORY_MAX);
  localStorage.setItem(HISTORY_KEY, JSON.stringify(list));
  renderHistory();
}

function renderHistory() {
  const items = history().map((sql) => {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = "#";
    a.textContent = sql;
    a.addEventListener("click", (e) => { e.preventDefault(); $("#sql").value = sql; });
    li.append(a);
    return li;
  });
  $("#history").replaceChildren(...items);
}

function showError(e) {
  const box = $("#query-error");
  box.hidden = false;
  box.textContent = e instanceof ApiError ? `${e.code}: ${e.message}` : String(e.message ?? e);
}

function columnsOf(rows) {
  const seen = new Set();
  for (const row of rows) for (const k of Object.keys(row)) seen.add(k);
  return [...seen];
}

function numericColumns(columns, rows) {
  return new Set(columns.filter((c) => rows.length > 0 &&
    rows.every((r) => r[c] === null || typeof r[c] === "number")));
}

function fillChartChoices(columns, numeric) {
  const fill = (select, options, chosen) => {
    select.replaceChildren(...options.map((c) => new Option(c, c, false, c === chosen)));
  };
  const x = columns[0];
  const y = columns.find((c) => c !== x && numeric.has(c)) ?? columns.find((c) => numeric.has(c));
  fill($("#chart-x"), columns, x);
  fill($("#chart-y"), columns.filter((c) => numeric.has(c)), y);
  if ($("#chart-type").value === "none" && y && result.rows.length > 1) $("#chart-type").value = "line";
}

function redrawChart() {
  drawChart($("#chart"), result.rows, $("#chart-x").value, $("#chart-y").value, $("#chart-type").value);
}

async function run(explain) {
  const sql = $("#sql").value.trim().replace(/;\s*$/, "");
  if (!sql) return;
  $("#query-error").hidden = true;
  $("#query-status").textContent = "running…";
  const started = performance.now();
  try {
    const rows = await query(explain ? `EXPLAIN ${sql}` : sql);
    const ms = performance.now() - started;
    remember(sql);
    if (explain) {
      $("#plan").hidden = false;
      $("#plan").textContent = rows.map((r) => `${r.plan_type}:\n${r.plan}`).join("\n\n");
      $("#query-status").textContent = `plan in ${ms.toFixed(0)} ms`;
      return;
    }
    $("#plan").hidden = true;
    const columns = columnsOf(rows);
    const numeric = numericColumns(columns, rows);
    result = { columns, rows, sql };
    renderResult($("#result"), columns, rows, numeric);
    fillChartChoices(columns, numeric);
    redrawChart();
    $("#csv").disabled = false;
    $("#query-status").textContent = `${rows.length} rows in ${ms.toFixed(0)} ms`;
  } catch (e) {
    $("#query-status").textContent = "";
    showError(e);
  }
}

async function downloadCsv() {
  try {
    const text = await query(result.sql, "csv");
    const url = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = "result.csv";
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (e) {
    showError(e);
  }
}

// ---- start --------------------------------------------------------------------------------

$("#run").addEventListener("click", () => run(false));
$("#explain").addEventListener("click", () => run(true));
$("#csv").addEventListener("click", downloadCsv);
$("#dead-letters-close").addEventListener("click", () => {
  shownDeadLetters = null;
  $("#dead-letters-panel").hidden = true;
});
for (const id of ["#chart-type", "#chart-x", "#chart-y"]) $(id).addEventListener("change", redrawChart);
$("#sql").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); run(false); }
});
if (!$("#sql").value) $("#sql").value = history()[0] ?? "SELECT * FROM oxbow.tables";
renderHistory();
refresh();
setInterval(() => { if ($("#auto-refresh").checked) refresh(); }, 1000);
// For tests and debugging: the cells show what these last answered.
window.oxbowConsole = { refresh, show };

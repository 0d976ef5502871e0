// Tables of rows: the result grid and the panels' tables.

/** Replaces the rows of `tbody` with one `<tr>` per item, cells from `cells(item)`. */
export function fillRows(tbody, items, key, cells) {
  const rows = items.map((item) => {
    const tr = document.createElement("tr");
    tr.dataset.key = key(item);
    for (const cell of cells(item)) {
      const td = document.createElement("td");
      if (cell.cls) td.className = cell.cls;
      if (cell.node) td.append(cell.node);
      else td.textContent = cell.text ?? "";
      if (cell.title) td.title = cell.title;
      tr.append(td);
    }
    return tr;
  });
  tbody.replaceChildren(...rows);
}

/** The result grid: a header of `columns`, a row per object in `rows`. */
export function renderResult(table, columns, rows, numeric) {
  const head = document.createElement("tr");
  for (const c of columns) {
    const th = document.createElement("th");
    th.textContent = c;
    if (numeric.has(c)) th.className = "num";
    head.append(th);
  }
  table.tHead.replaceChildren(head);
  fillRows(table.tBodies[0], rows, (_, i) => String(i), (row) =>
    columns.map((c) => ({ text: show(row[c]), cls: numeric.has(c) ? "num" : "" })));
}

export function show(value) {
  if (value === null || value === undefined) return "NULL";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** 12345678 as "12.3 MB". */
export function bytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0, v = Number(n);
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** A count with thousands separators, exact (the test compares it with SQL). */
export function count(n) {
  if (n === null || n === undefined) return "";
  return Number(n).toLocaleString("en-US");
}

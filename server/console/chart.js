// A line or bar chart of one query result, drawn as SVG: no library to vendor. The x column
// may be numbers, times (ISO strings) or categories; the y column must be numbers.

const SVG = "http://www.w3.org/2000/svg";
const W = 760, H = 260, PAD = { left: 64, right: 16, top: 12, bottom: 36 };

function el(name, attrs, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

/** How x values are placed: as numbers, as times, or one slot per category. */
function xScale(values) {
  if (values.every((v) => typeof v === "number")) return { kind: "number", of: (v) => v };
  const times = values.map((v) => (typeof v === "string" ? Date.parse(v) : NaN));
  if (values.length && times.every((t) => !Number.isNaN(t)))
    return { kind: "time", of: (v) => Date.parse(v) };
  return { kind: "category", of: (_, i) => i };
}

function label(kind, v) {
  if (kind === "time") return new Date(v).toISOString().replace("T", " ").slice(0, 19);
  if (Math.abs(v) >= 1e6 || (Math.abs(v) < 1e-3 && v !== 0)) return v.toExponential(2);
  return String(Math.round(v * 1000) / 1000);
}

/**
 * Draws `rows[x]` against `rows[y]` into `container` as a `type` ("line" or "bar") chart.
 * Rows whose y is not a number are skipped. Returns the number of points drawn.
 */
export function drawChart(container, rows, x, y, type) {
  container.replaceChildren();
  if (type === "none" || !x || !y) return 0;
  const points = rows
    .map((r, i) => ({ x: r[x], y: typeof r[y] === "number" ? r[y] : Number(r[y]), i }))
    .filter((p) => p.y !== null && Number.isFinite(p.y));
  if (points.length === 0) return 0;
  const scale = xScale(points.map((p) => p.x));
  const xs = points.map((p, i) => scale.of(p.x, i));
  const bar = type === "bar";
  let x0 = Math.min(...xs), x1 = Math.max(...xs);
  if (bar || x0 === x1) { x0 -= 0.5; x1 += 0.5; }
  let y0 = Math.min(0, ...points.map((p) => p.y)), y1 = Math.max(...points.map((p) => p.y));
  if (y0 === y1) y1 = y0 + 1;
  const px = (v) => PAD.left + ((v - x0) / (x1 - x0)) * (W - PAD.left - PAD.right);
  const py = (v) => H - PAD.bottom - ((v - y0) / (y1 - y0)) * (H - PAD.top - PAD.bottom);

  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img",
    "aria-label": `${type} chart of ${y} by ${x}`, "data-points": String(points.length) });
  svg.append(el("line", { x1: PAD.left, y1: py(y0), x2: W - PAD.right, y2: py(y0), class: "axis" }));
  svg.append(el("line", { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: H - PAD.bottom, class: "axis" }));
  for (const v of [y0, (y0 + y1) / 2, y1]) {
    svg.append(el("text", { x: PAD.left - 6, y: py(v) + 4, "text-anchor": "end", class: "tick" }, label("number", v)));
  }
  const xTicks = scale.kind === "category"
    ? [0, Math.floor((points.length - 1) / 2), points.length - 1].map((i) => [xs[i], String(points[i].x)])
    : [Math.min(...xs), Math.max(...xs)].map((v) => [v, label(scale.kind, v)]);
  xTicks.forEach(([v, text], k) => {
    const anchor = k === 0 ? "start" : k === xTicks.length - 1 ? "end" : "middle";
    svg.append(el("text", { x: px(v), y: H - PAD.bottom + 16, "text-anchor": anchor, class: "tick" }, text));
  });
  svg.append(el("text", { x: (W + PAD.left) / 2, y: H - 4, "text-anchor": "middle", class: "axis-name" }, x));

  if (bar) {
    const width = Math.max(1, ((W - PAD.left - PAD.right) / (x1 - x0)) * 0.8);
    points.forEach((p, i) => {
      const top = py(Math.max(p.y, 0)), bottom = py(Math.min(p.y, 0));
      svg.append(el("rect", { class: "bar", x: px(xs[i]) - width / 2, y: top, width,
        height: Math.max(1, bottom - top) }, undefined));
    });
  } else {
    const order = xs.map((v, i) => [v, i]).sort((a, b) => a[0] - b[0]);
    const d = order.map(([v, i], k) => `${k ? "L" : "M"}${px(v).toFixed(1)},${py(points[i].y).toFixed(1)}`).join(" ");
    svg.append(el("path", { class: "series", d }));
  }
  container.append(svg);
  return points.length;
}

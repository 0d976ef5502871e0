#!/usr/bin/env python3
"""PNG charts of the benchmark results: one per group, Oxbow beside its peers.

Reads the JSON files the benchmark scripts write under bench/results/ (never the Markdown) and
draws, under bench/charts/, the files the RESULTS*.md reports link to:

  ingest.png     INSERT and COPY rows/s, Oxbow and PostgreSQL       (bench/ingest.py)
  freshness.png  ms from ack to visible, p50/p99/max                (bench/ingest.py)
  tpch.png       hot median per TPC-H query, per engine             (bench/tpch.py)
  events.png     hot median per dashboard query, per Oxbow layout
                 and peer, one panel per query                      (bench/events.py)
  streaming.png  rows/s per result-streaming method                 (bench/streaming.py)

A missing JSON file skips its charts (say, a run with OXBOW_BENCH_TPCH=0). A failed query or a
result that differs from the reference is drawn as a red mark, never as a bar. Each chart's
title says whether it comes from a quick run, since quick sizes are not figures to quote.

    bench/charts.py [--results bench/results] [--out bench/charts]
"""

import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")  # no display: write files only
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

COLORS = {
    "Oxbow": "#1f5fa8",
    "Oxbow lake": "#1f5fa8",
    "Oxbow hot": "#d1495b",
    "Oxbow split": "#7b4fa0",
    "PostgreSQL": "#8c8c8c",
    "DuckDB": "#e8a33d",
    "DataFusion": "#3c9d5d",
    "DataFusion on Oxbow's files": "#9ccfae",
    "chDB": "#f2c14e",
    "chDB MergeTree": "#b5651d",
}
DPI = 110
# Short x labels for the streaming methods (the report has the full statements).
STREAMING_LABELS = {
    "select_simple": "SELECT *\nsimple protocol\n(not decoded)",
    "select_extended": "SELECT *\nextended protocol\n(not decoded)",
    "select_decoded": "SELECT *\nrows decoded\n(psycopg stream)",
    "copy_table": "COPY t\nTO STDOUT",
    "copy_query": "COPY (SELECT *)\nTO STDOUT (csv)",
}
PLAIN = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 10 else f"{v:g}")


def subtitle(meta):
    run = "QUICK run (smoke sizes, not figures to quote)" if meta.get("quick") else "full run"
    return f"{run}; {meta.get('date', '?')}; {meta.get('cpus', '?')} CPUs; git {meta.get('commit', '?')}"


def save(fig, out_dir, name):
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"{name}.png")
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    print(f"wrote {path}")


def grouped_bars(ax, groups, series, value, bad=lambda g, s: None, width=0.8):
    """Bars for each series within each group; value(g, s) is a number or None. A None value
    with bad(g, s) set draws a red x at the axis and the reason's first word."""
    n = len(series)
    w = width / n
    for i, s in enumerate(series):
        xs = [g + (i - (n - 1) / 2) * w for g in range(len(groups))]
        vals = [value(g, s) for g in groups]
        ax.bar([x for x, v in zip(xs, vals) if v is not None], [v for v in vals if v is not None], w,
               label=s, color=COLORS.get(s))
        for x, g in zip(xs, groups):
            reason = bad(g, s)
            if reason:
                ax.plot([x], [0], marker="x", color="red", markersize=9, mew=2, clip_on=False, zorder=5)
                ax.annotate(reason, (x, 0), xytext=(0, 8), textcoords="offset points", rotation=90,
                            color="red", fontsize=7, ha="center", va="bottom")
    ax.set_xticks(range(len(groups)))


# ---------------------------------------------------------------------------------------------


def ingest_charts(data, out_dir):
    groups = data["groups"]
    meta = data["meta"]
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    for ax, name in zip(axes, ("INSERT ingest", "COPY ingest")):
        per = groups.get(name, {})
        systems = [s for s in ("Oxbow", "PostgreSQL") if s in per]
        vals = [per[s]["rows/s"] for s in systems]
        bars = ax.bar(systems, vals, color=[COLORS[s] for s in systems])
        ax.bar_label(bars, labels=[f"{v:,.0f}" for v in vals], fontsize=8)
        ax.set_title(name, fontsize=10)
        ax.set_ylabel("rows/s (higher is better)")
        ax.yaxis.set_major_formatter(PLAIN)
        ax.margins(y=0.15)
    sizes = meta.get("sizes", {})
    fig.suptitle(f"Ingest: {sizes.get('insert_rows', '?'):,} rows by INSERT, {sizes.get('copy_rows', '?'):,} by COPY\n"
                 f"{subtitle(meta)}", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    save(fig, out_dir, "ingest")

    fresh = groups.get("Freshness", {})
    if fresh:
        figures = ["visible after ack, p50 ms", "visible after ack, p99 ms", "visible after ack, max ms"]
        systems = [s for s in ("Oxbow", "PostgreSQL") if s in fresh]
        fig, ax = plt.subplots(figsize=(8, 4.2))
        grouped_bars(ax, figures, systems, lambda f, s: fresh[s].get(f))
        for container in ax.containers:
            ax.bar_label(container, labels=[f"{b.get_height():.2f}" for b in container], fontsize=8)
        ax.set_xticklabels([f.replace("visible after ack, ", "") for f in figures])
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(PLAIN)
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_ylabel("ms, ack to visible (log; lower is better)")
        ax.legend()
        fig.suptitle(f"Freshness: a row's acknowledgement to its visibility on another connection "
                     f"({fresh[systems[0]].get('samples', '?')} samples)\n{subtitle(meta)}", fontsize=10)
        fig.tight_layout(rect=(0, 0, 1, 0.93))
        save(fig, out_dir, "freshness")


def tpch_chart(data, out_dir):
    results, meta = data["results"], data["meta"]
    queries = list(results)
    engines = [e for e in ("Oxbow", "DataFusion", "DuckDB", "chDB", "chDB MergeTree",
                                "DataFusion on Oxbow's files")
               if any(e in results[q] for q in queries)]

    def value(q, e):
        r = results[q].get(e)
        return r["median_ms"] if r and not r["error"] and not r["check"] else None

    def bad(q, e):
        r = results[q].get(e)
        return None if not r else "error" if r["error"] else "mismatch" if r["check"] else None

    fig, ax = plt.subplots(figsize=(max(10, len(queries) * 0.6), 4.5))
    grouped_bars(ax, queries, engines, value, bad)
    ax.set_xticklabels([f"Q{q}" for q in queries])
    ax.set_ylabel("hot median ms (lower is better)")
    ax.legend(fontsize=8)
    fig.suptitle(f"TPC-H SF{meta.get('sf', '?'):g} over the same data: Oxbow over pgwire; DataFusion, DuckDB and "
                 f"chDB in process\n{subtitle(meta)}", fontsize=10)
    save(fig, out_dir, "tpch")


def events_chart(data, out_dir):
    results, meta = data["results"], data["meta"]
    queries = list(results)
    engines = [e for e in ("Oxbow lake", "Oxbow hot", "Oxbow split", "DuckDB", "DataFusion", "chDB",
                                "chDB MergeTree")
               if any(e in results[q] for q in queries)]
    cols = 4
    rows = -(-len(queries) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.9 * rows), squeeze=False)
    for ax, q in zip(axes.flat, queries):
        per = results[q]
        vals, colors, labels = [], [], []
        for e in engines:
            r = per.get(e)
            ok = r and not r["error"] and not r["check"]
            vals.append(r["median_ms"] if ok else 0)
            colors.append(COLORS[e])
            labels.append(e.replace("Oxbow ", ""))
        bars = ax.bar(range(len(engines)), vals, color=colors)
        ax.bar_label(bars, labels=["" if not v else f"{v:.0f}" if v >= 10 else f"{v:.1f}" for v in vals], fontsize=7)
        for i, e in enumerate(engines):
            r = per.get(e)
            if r and (r["error"] or r["check"]):
                ax.annotate("error" if r["error"] else "mismatch", (i, 0), xytext=(0, 6), textcoords="offset points",
                            rotation=90, color="red", fontsize=8, ha="center", va="bottom", fontweight="bold")
        ax.set_xticks(range(len(engines)))
        ax.set_xticklabels(labels, fontsize=7, rotation=30)
        ax.set_title(q, fontsize=9)
        ax.tick_params(axis="y", labelsize=7)
        ax.margins(y=0.18)
    for ax in list(axes.flat)[len(queries):]:
        ax.axis("off")
    axes[0][0].set_ylabel("hot median ms", fontsize=8)
    handles = [plt.Rectangle((0, 0), 1, 1, color=COLORS[e]) for e in engines]
    fig.legend(handles, engines, loc="lower center", ncol=len(engines), fontsize=8, bbox_to_anchor=(0.5, -0.03))
    rows_n = data.get("data", {}).get("rows")
    fig.suptitle(f"Events dashboard, {rows_n:,} rows: Oxbow (pgwire) with all rows in Delta (lake), all hot, or "
                 f"split; DuckDB, DataFusion and chDB on Parquet, chDB on MergeTree (lower is better)\n{subtitle(meta)}", fontsize=10)
    fig.tight_layout(rect=(0, 0.02, 1, 0.95))
    save(fig, out_dir, "events")


def streaming_chart(data, out_dir):
    results, meta = data["results"], data["meta"]
    methods = list(results)
    systems = ["Oxbow", "PostgreSQL"]

    def value(m, s):
        f = results[m][s]["figures"]
        return f["rows/s"] if not results[m][s]["error"] and not results[m][s]["problem"] else None

    def bad(m, s):
        r = results[m][s]
        return "error" if r["error"] else "wrong rows" if r["problem"] else None

    fig, ax = plt.subplots(figsize=(10, 4.5))
    grouped_bars(ax, methods, systems, value, bad)
    ax.set_xticklabels([STREAMING_LABELS.get(m, m) for m in methods], fontsize=8)
    for container in ax.containers:
        ax.bar_label(container, labels=[f"{b.get_height() / 1e6:.2f}M" for b in container], fontsize=7)
    ax.set_ylabel("rows/s to the client (higher is better)")
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v / 1e6:.1f}M"))
    ax.legend()
    rows_n = data.get("data", {}).get("rows")
    fig.suptitle(f"Result streaming of {rows_n:,} rows over pgwire\n{subtitle(meta)}", fontsize=10)
    save(fig, out_dir, "streaming")


CHARTS = {
    "ingest.json": ingest_charts,
    "tpch.json": tpch_chart,
    "events.json": events_chart,
    "streaming.json": streaming_chart,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default=common.RESULTS_DIR, help="directory of the scripts' JSON files")
    parser.add_argument("--out", default=common.CHARTS_DIR, help="directory for the PNG files")
    args = parser.parse_args()
    drawn = 0
    for name, draw in CHARTS.items():
        path = os.path.join(args.results, name)
        if not os.path.exists(path):
            print(f"skipped: no {path}")
            continue
        with open(path) as f:
            draw(json.load(f), args.out)
        drawn += 1
    if not drawn:
        sys.exit(f"no results in {args.results}: run bench/run first")


if __name__ == "__main__":
    main()

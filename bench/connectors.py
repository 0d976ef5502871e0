"""The per-connector table of bench/RESULTS.md, from the figures of bench/sources.py and bench/kafka.py.

bench/ingest.py writes bench/RESULTS.md (INSERT, COPY, memory, freshness beside PostgreSQL); the
connector groups run later and write their own reports. This script, run by bench/run after
them, puts one summary of every connector beside its peers into RESULTS.md, between two marker
comments (replaced on each run, appended the first time), reading bench/results/sources.json and
bench/results/kafka.json. A group whose JSON is missing is left out and said so.
"""

import argparse
import json
import os

import common

BEGIN, END = "<!-- connectors: written by bench/connectors.py -->", "<!-- /connectors -->"


def load(results, name):
    path = os.path.join(results, f"{name}.json")
    return json.load(open(path)) if os.path.exists(path) else None


def num(v, digits=0):
    return "n/a" if v is None else f"{v:,.{digits}f}"


def section(results):
    rows, notes = [], []
    sources = load(results, "sources")
    if sources:
        meta = sources["meta"]
        notes.append(f"FILES and HTTP: {meta['date']}, git {meta['commit']}, profile {meta['profile']}"
                     f"{', quick sizes' if meta.get('quick') else ''} ([RESULTS-sources.md](RESULTS-sources.md))")
        files = sources["groups"]["File ingest"]
        for fmt, peer in (("NDJSON", "DuckDB read_json, NDJSON"), ("CSV", "DuckDB read_csv, CSV"),
                          ("Parquet", "DuckDB read_parquet, Parquet")):
            ours = files[f"Oxbow FILES source, {fmt}"]
            theirs = files[peer]
            rows.append((f"FILES, {fmt}", ours["rows/s"], peer, theirs["rows/s"]))
        pg_copy = files.get("PostgreSQL COPY FROM STDIN, CSV")
        if pg_copy:
            rows.append(("FILES, CSV", files["Oxbow FILES source, CSV"]["rows/s"], "PostgreSQL COPY FROM STDIN, CSV",
                         pg_copy["rows/s"]))
        push = sources["groups"]["HTTP push"]
        rows.append(("HTTP push, NDJSON (batches of 1,000)", push["Oxbow HTTP push, NDJSON"]["rows/s"],
                     "PostgreSQL COPY of the same batches", push["PostgreSQL COPY of the same batches, CSV"]["rows/s"]))
        fresh = sources["groups"]["Freshness"]
        freshness = [("HTTP push", fresh["Oxbow HTTP push"]["visible after ack, p50 ms"],
                      fresh["Oxbow HTTP push"]["visible after ack, p99 ms"], "PostgreSQL COPY",
                      fresh["PostgreSQL COPY"]["visible after ack, p50 ms"],
                      fresh["PostgreSQL COPY"]["visible after ack, p99 ms"])]
    else:
        notes.append("FILES and HTTP: no bench/results/sources.json (OXBOW_BENCH_SOURCES=0?)")
        freshness = []
    kafka = load(results, "kafka")
    if kafka:
        m = kafka["machine"]
        notes.append(f"KAFKA: {m['date']}, git {m['commit']}, profile {kafka['profile']}"
                     f"{', quick sizes' if kafka.get('quick') else ''} ([RESULTS-kafka.md](RESULTS-kafka.md))")
        thr = kafka["throughput"]
        bare = thr["bare consumer, messages only"]["rows/s"]
        for fmt in ("JSON", "Avro"):
            rows.append((f"KAFKA, {fmt}", thr[f"Oxbow KAFKA source, {fmt}"]["rows/s"],
                         "bare librdkafka consumer, messages only", bare))
        rows.append(("KAFKA, JSON", thr["Oxbow KAFKA source, JSON"]["rows/s"],
                     "bare librdkafka consumer + pyarrow.json decode",
                     thr["bare consumer + pyarrow.json decode"]["rows/s"]))
        f = kafka["freshness"]
        ours, theirs = f["Oxbow KAFKA source (visible to SELECT)"], f["bare consumer (received)"]
        freshness.append(("KAFKA", ours["p50 ms"], ours["p99 ms"], "bare librdkafka consumer (received)",
                          theirs["p50 ms"], theirs["p99 ms"]))
    else:
        notes.append("KAFKA: no bench/results/kafka.json (OXBOW_BENCH_KAFKA=0?)")

    out = [BEGIN, "## Connectors (CREATE SOURCE) beside their peers", ""]
    out += [f"- {n}" for n in notes]
    out += ["", "Durable ingest: Oxbow's rows are in its WAL and visible to SELECT; each peer does what the "
            "detailed report says (DuckDB into a database file, PostgreSQL with fsync on, a bare consumer "
            "stores nothing).", "",
            "| connector | Oxbow rows/s | peer | peer rows/s | Oxbow / peer |", "| --- | ---: | --- | ---: | ---: |"]
    for name, ours, peer, theirs in rows:
        out.append(f"| {name} | {num(ours)} | {peer} | {num(theirs)} | {ours / theirs:.2f} |")
    if freshness:
        out += ["", "| freshness | Oxbow p50 ms | Oxbow p99 ms | peer | peer p50 ms | peer p99 ms |",
                "| --- | ---: | ---: | --- | ---: | ---: |"]
        for name, p50, p99, peer, q50, q99 in freshness:
            out.append(f"| {name} | {num(p50, 2)} | {num(p99, 2)} | {peer} | {num(q50, 2)} | {num(q99, 2)} |")
    out += ["", END]
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--results", default=common.RESULTS_DIR, help="directory of the scripts' JSON files")
    parser.add_argument("--report", default=os.path.join(common.BENCH_DIR, "RESULTS.md"))
    args = parser.parse_args()
    path = args.report
    text = open(path).read() if os.path.exists(path) else "# Oxbow benchmarks\n"
    block = section(args.results)
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    with open(path, "w") as f:
        f.write(text)
    print(f"wrote the connectors section of {path}")


if __name__ == "__main__":
    main()

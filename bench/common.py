"""Helpers shared by the benchmark scripts in bench/: where a run happened, and its JSON dump.

Every script writes its figures twice: a Markdown report for people (bench/RESULTS*.md) and a
JSON file under bench/results/ that bench/charts.py draws from, so that charts never parse
Markdown and a script can be rerun alone without redrawing the others' charts by hand.
"""

import datetime
import json
import os
import platform
import subprocess

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
RESULTS_DIR = os.path.join(BENCH_DIR, "results")
CHARTS_DIR = os.path.join(BENCH_DIR, "charts")


def git(*args):
    result = subprocess.run(["git", "-C", REPO, *args], capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else "unknown"


def machine():
    """The machine and checkout a run measured, as a dict for the JSON and the report header."""
    meminfo = dict(line.split(":", 1) for line in open("/proc/meminfo"))
    cpu = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
        platform.processor() or "unknown",
    )
    commit = git("rev-parse", "--short", "HEAD")
    if git("status", "--porcelain", "--untracked-files=no"):
        commit += " plus uncommitted changes"
    return {
        "date": f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        "cpus": os.cpu_count(),
        "memory_gib": round(int(meminfo["MemTotal"].split()[0]) / 2**20, 1),
        "cpu": cpu,
        "commit": commit,
        "python": platform.python_version(),
    }


def chart_link(name, title):
    """A Markdown image line for bench/charts/<name>.png, relative to a report in bench/."""
    return f"![{title}](charts/{name}.png)"


def write_json(path, data):
    """Write `data` as indented JSON, creating the directory; values json cannot encode become strings."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(data, f, indent=1, default=str)
        f.write("\n")
    os.replace(path + ".tmp", path)

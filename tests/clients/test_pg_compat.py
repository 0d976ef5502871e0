"""PostgreSQL compatibility as a number: the corpus of tests/pgcompat/ against a real PostgreSQL
15 (started here from Debian's package) and the real oxbow binary, per area.

The share of matching statements is a measurement, not a pass mark (tests/pgcompat/RESULTS.md
has it with every difference); what this test guards is that no area loses ground: an area
that matches fewer statements than tests/pgcompat/baseline.json records fails, naming the
statements that now differ. After an improvement, rerun `tests/pgcompat/compare.py
--write-baseline` to raise the floor.
"""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pgcompat"))
import compare  # noqa: E402


MEANT_TO_FAIL = {
    ("boolean", "SELECT 'maybe'::boolean"),
    ("date", "SELECT '2024-02-30'::date"),
    ("timestamp", "SELECT '2024-03-15 25:00:00'::timestamp"),
    ("subselect", "SELECT (SELECT w FROM sub_b WHERE id = 1)"),
}


@pytest.fixture(scope="module")
def servers():
    pg = compare.Postgres()
    try:
        ox = compare.Oxbow()
        try:
            yield pg, ox
        finally:
            ox.stop()
    finally:
        pg.stop()


def test_no_area_matches_fewer_statements_than_its_baseline(servers, tmp_path):
    pg, ox = servers
    report = compare.compare(pg.dsn, ox.dsn)
    (tmp_path / "RESULTS.md").write_text(compare.markdown(report, pg.version, compare.git_commit()))
    baseline = json.loads(compare.BASELINE.read_text())
    assert set(report) == set(baseline), "a corpus file was added or removed: rerun compare.py --write-baseline"
    lost = {}
    for area, entry in report.items():
        print(f"{area:14} {entry['matched']:3} of {entry['answered']:3}")
        if entry["matched"] < baseline[area]:
            lost[area] = (entry["matched"], baseline[area], [sql for sql, _, _ in entry["differences"]])
    # A statement PostgreSQL refuses measures nothing; only the ones written to fail may.
    refused = {(area, sql) for area, e in report.items() for sql, _ in e["refused"]}
    assert refused == MEANT_TO_FAIL, f"PostgreSQL's refusals differ from the corpus's intent: {refused ^ MEANT_TO_FAIL}"
    assert not lost, f"areas below their baseline (matched, baseline, differing statements): {lost}"

"""The web console at / in a real browser: Debian's Chromium (headless) driven by Python
Playwright through `executable_path` (never `playwright install`, which downloads).

A DATAGEN source runs while the page is open: its rows-in figure must grow on the page and
match oxbow.sources read over pgwire around the same refresh, its lag must move, the tables
panel must show both tiers as oxbow.tables does (before and after a FLUSH), the dead letters
of an HTTP source must be listed, a query must fill the grid and draw a chart with one mark
per row, EXPLAIN must show a plan, the history must survive a reload, and the CSV download
must hold the result. The screenshot goes to a temp dir; with OXBOW_CONSOLE_SCREENSHOT=1 it
replaces docs/console.png, which the README shows (so a test run leaves the tree unchanged).
Under scram-sha-256 the page answers 401 with a Basic challenge until the browser sends a
role's password."""

import json
import os
import re
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest

playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM = os.environ.get("OXBOW_CHROMIUM", "/usr/bin/chromium")
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "console.png"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu",
    # Nothing leaves the machine: no update checks, field trials, sync or metrics.
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--no-first-run", "--metrics-recording-only",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
]

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}")


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def scalar(server, sql):
    with psycopg.connect(host="127.0.0.1", port=server.port, user="oxbow", dbname="oxbow",
                         autocommit=True) as conn:
        return conn.execute(sql).fetchone()[0]


def number(text):
    """The integer a cell shows ("12,345" is 12345)."""
    assert re.fullmatch(r"-?[\d,]+", text.strip()), repr(text)
    return int(text.strip().replace(",", ""))


def cell(page, row_selector, column):
    return page.inner_text(f"{row_selector} td.{column}")


def refresh(page):
    """One refresh of the panels, finished when this returns."""
    page.evaluate("() => window.oxbowConsole.refresh()")


def test_console_shows_moving_sources_both_tiers_and_charts_a_query(oxbow, browser, tmp_path):
    oxbow.psql("-c", "CREATE TABLE m (id bigint, label text); "
               "INSERT INTO m VALUES (1, 'one'), (2, 'two'), (3, 'three');"
               "CREATE SOURCE gen FROM DATAGEN (rows_per_second = '3000', seed = '7')"
               " FORMAT JSON INTO gen_events;"
               "CREATE TABLE clicks (id bigint, email text);"
               "CREATE SOURCE web FROM HTTP () FORMAT JSON INTO clicks"
               " WITH (schema_mode = 'strict');")
    req = urllib.request.Request(
        f"http://127.0.0.1:{oxbow.http_port}/v1/sources/web",
        data=b'{"id": 1, "email": "a@example.com"}\n{"id": "oops"}\n',
        headers={"Content-Type": "application/x-ndjson"}, method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        assert json.loads(r.read())["rejected"] == 1

    page = browser.new_page(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"http://127.0.0.1:{oxbow.http_port}/")
    gen = '#sources tr[data-key="public.gen"]'
    page.wait_for_selector(gen)
    page.uncheck("#auto-refresh")  # from here on the test decides when the page refreshes
    assert page.inner_text("#ready").startswith("ready")

    # Rows in: between what SQL said just before and just after the page's refresh, and
    # growing from one refresh to the next.
    seen, lags = [], set()
    for _ in range(8):
        before = scalar(oxbow, "SELECT rows_in FROM oxbow.sources WHERE source_name = 'gen'")
        refresh(page)
        after = scalar(oxbow, "SELECT rows_in FROM oxbow.sources WHERE source_name = 'gen'")
        shown = number(cell(page, gen, "rows_in"))
        assert before <= shown <= after, (before, shown, after)
        seen.append(shown)
        lags.add(number(cell(page, gen, "lag")))
        assert page.inner_text(f"{gen} td.status") == "running"
        time.sleep(0.6)
    assert seen == sorted(seen) and seen[-1] > seen[0], seen
    assert len(lags) > 1, f"the lag did not move: {lags}"
    assert float(cell(page, gen, "rows_per_second")) > 0
    assert cell(page, gen, "event_lag").endswith(" s")

    # Tables: the hot tier of m exactly as oxbow.tables says, then the Delta tier after a flush.
    m = '#tables tr[data-key="public.m"]'
    assert number(cell(page, m, "hot_rows")) == 3
    assert number(cell(page, m, "delta_files")) == 0
    oxbow.psql("-c", "FLUSH TABLE m")
    refresh(page)
    version, files, watermark = [int(v) for v in oxbow.psql(
        "-At", "-F", " ", "-c",
        "SELECT delta_version, delta_files, flushed_seq FROM oxbow.tables WHERE table_name = 'm'"
    ).stdout.split()]
    assert files >= 1 and watermark > 0
    assert number(cell(page, m, "hot_rows")) == 0
    assert number(cell(page, m, "delta_version")) == version
    assert number(cell(page, m, "delta_files")) == files
    assert number(cell(page, m, "flushed_seq")) == watermark
    assert page.inner_text(f"{m} td.status") == "ok"

    # The dead letters of the HTTP source.
    page.click('#sources tr[data-key="public.web"] button.dead-letters')
    page.wait_for_selector("#dead-letters tbody tr")
    assert '{"id": "oops"}' in page.inner_text("#dead-letters tbody")
    assert page.inner_text("#dead-letters-source") == "public.web"

    # A query: the grid, then a line chart with one point per row, then bars.
    sql = ("SELECT date_trunc('second', event_time) AS second, count(*) AS events "
           "FROM gen_events GROUP BY 1 ORDER BY 1")
    page.fill("#sql", sql)
    page.click("#run")
    page.wait_for_selector("#chart svg")
    rows = page.locator("#result tbody tr").count()
    assert rows >= 2
    assert page.inner_text("#query-status").startswith(f"{rows} rows")
    assert page.get_attribute("#chart svg", "data-points") == str(rows)
    d = page.get_attribute("#chart svg path.series", "d")
    assert d.startswith("M") and d.count("L") == rows - 1, d
    box = page.locator("#chart svg").bounding_box()
    assert box["width"] > 300 and box["height"] > 100
    total = sum(number(t) for t in page.locator("#result tbody tr td:nth-child(2)").all_inner_texts())
    assert total <= scalar(oxbow, "SELECT count(*) FROM gen_events")
    page.select_option("#chart-type", "bar")
    assert page.locator("#chart svg rect.bar").count() == rows
    page.select_option("#chart-type", "line")
    DOCS_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    refresh(page)
    screenshot = DOCS_SCREENSHOT if os.environ.get("OXBOW_CONSOLE_SCREENSHOT") else tmp_path / "console.png"
    page.screenshot(path=str(screenshot), full_page=True)

    # EXPLAIN shows DataFusion's plan.
    page.click("#explain")
    page.wait_for_selector("#plan:not([hidden])")
    assert "logical_plan" in page.inner_text("#plan") and "physical_plan" in page.inner_text("#plan")

    # An error is shown with its SQLSTATE.
    page.fill("#sql", "SELECT * FROM no_such_table")
    page.click("#run")
    page.wait_for_selector("#query-error:not([hidden])")
    assert page.inner_text("#query-error").startswith("42P01")

    # CSV download of a deterministic result.
    page.fill("#sql", "SELECT id, id * 10 AS tenfold, label FROM m ORDER BY id")
    page.click("#run")
    page.wait_for_function("document.querySelector('#query-status').textContent.startsWith('3 rows')")
    assert page.locator("#result tbody tr").all_inner_texts()[2].split("\t") == ["3", "30", "three"]
    with page.expect_download() as download:
        page.click("#csv")
    saved = tmp_path / "result.csv"
    download.value.save_as(saved)
    assert saved.read_text().splitlines() == ["id,tenfold,label", "1,10,one", "2,20,two", "3,30,three"]

    # The history survives a reload, newest first.
    page.reload()
    page.wait_for_selector("#history li")
    history = page.locator("#history li").all_inner_texts()
    assert history[0] == "SELECT id, id * 10 AS tenfold, label FROM m ORDER BY id"
    assert sql in history
    assert "SELECT * FROM no_such_table" not in history  # failed queries are not kept
    assert errors == []
    page.close()


def test_console_asks_for_a_role_under_scram(make_oxbow, browser):
    server = make_oxbow(env={"OXBOW_PASSWORD": "console-pw"})
    url = f"http://127.0.0.1:{server.http_port}/"
    try:
        urllib.request.urlopen(url, timeout=30)
        raise AssertionError("the console opened without credentials")
    except urllib.error.HTTPError as e:
        assert e.code == 401
        assert e.headers["WWW-Authenticate"].startswith("Basic")

    wrong = browser.new_context(http_credentials={"username": "oxbow", "password": "nope"})
    response = wrong.new_page().goto(url)
    assert response.status == 401
    wrong.close()

    context = browser.new_context(http_credentials={"username": "oxbow", "password": "console-pw"})
    page = context.new_page()
    assert page.goto(url).status == 200
    page.wait_for_selector('#tables tr[data-key="oxbow.dead_letters"]')
    page.fill("#sql", "SELECT current_user AS who")
    page.click("#run")
    page.wait_for_selector("#result tbody tr")
    assert page.inner_text("#result tbody tr td") == "oxbow"
    context.close()

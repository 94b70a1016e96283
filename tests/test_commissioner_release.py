"""What a commissioner reads (issue 29): tables.xlsx as a workbook of numbers (ONS / GOV.UK spreadsheet
conventions, read back with pandas and openpyxl as a user would) and a glossary complete by test."""

from __future__ import annotations

import datetime as dt
import html as _html
import re

import pandas as pd
import pytest
from conftest import SYNTHETIC, figures_not_drawn
from hypothesis import given, settings
from hypothesis import strategies as st

from dapp_eval.disclosure.audit import _notes_merged
from dapp_eval.report.context import PublishedTable
from dapp_eval.report.workbook import WorkbookBuilder, sheet_columns

STAMP = dt.datetime(2025, 4, 30)


def _frame():
    # a published table as the pages publish it: counts as text with markers, a percentage column, figures the
    # page writes as text ("81%", "£937", an interval), and words among figures
    return pd.DataFrame({
        "stage": ["Referred", "Declined", "Started", "Cost"],
        "n": ["1,234", "<10", "15", "[c]"],
        "% of referred": [100, 0.75, 14, None],
        "Value": ["81%", "£937", "-3.6 points", "hidden (small numbers)"],
        "95% CI": ["95% CI 64% to 77%", "£608 to £1,471", "", "[c]"],
    }, dtype=object)


def test_sheet_columns_store_numbers_with_the_shorthand_beside_them():
    cols = {c.code: c for c in sheet_columns(_frame())}
    assert list(cols) == ["stage", "n", "n note", "prop of referred", "Value", "Value note", "Value unit",
                          "ci_lower", "ci_upper", "95% CI note"]
    assert cols["n"].values == [1234, None, 15, None]
    assert cols["n note"].values == [None, "<10", None, "[c]"]
    # one unit convention: the page's percentages become proportions (0.75% is 0.0075), formatted as %
    assert cols["prop of referred"].values == [1, 0.0075, 0.14, None]
    assert [c.fmt for c in cols["prop of referred"].cells][:3] == ["0%", "0.00%", "0%"]
    assert cols["Value"].values == [0.81, 937, -3.6, None]
    assert [c.fmt for c in cols["Value"].cells][:2] == ["0%", "£#,##0"]
    assert cols["Value note"].values == [None, None, None, "hidden (small numbers)"]
    assert cols["Value unit"].values == ["proportion (shown as %)", "£", "points", None]
    assert cols["ci_lower"].values == [0.64, 608, None, None] and cols["ci_upper"].values == [0.77, 1471, None, None]
    assert cols["95% CI note"].values == [None, None, None, "[c]"]
    # the disclosure audit reads the shorthand back into its column, as the CSV has it
    header, body = _notes_merged(["n", "n note"], [["1234", ""], ["", "<10"]])
    assert header == ["n"] and body == [["1234"], ["<10"]]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 5000), st.sampled_from(["<10", "[c]", "<5"]),
                          st.integers(10, 5000).map(lambda v: f"{v:,}"), st.none()), min_size=1, max_size=12))
def test_a_count_column_keeps_numbers_and_its_shorthand_beside_it(cells):
    frame = pd.DataFrame({"group": [f"g{i}" for i in range(len(cells))], "n": cells}, dtype=object)
    cols = {c.code: c for c in sheet_columns(frame)}
    assert all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in cols["n"].values)
    expected = [int(v.replace(",", "")) if isinstance(v, str) and v[0].isdigit() else v if isinstance(v, int) else None
                for v in cells]
    assert cols["n"].values == expected
    markers = [v if isinstance(v, str) and not v[0].isdigit() else None for v in cells]
    assert cols.get("n note", None) is None and not any(markers) or cols["n note"].values == markers
    # the audit's reading of the sheet gives back the cells as the CSV publishes them
    codes = list(cols)
    rows = [["" if c.cells[i].value is None else str(c.cells[i].value) for c in cols.values()]
            for i in range(len(cells))]
    _header, body = _notes_merged(codes, rows)
    assert [r[1] for r in body] == [str(v).replace(",", "") if v is not None else "" for v in cells]


def test_builder_names_sheets_in_words_once_each_with_a_frozen_filtered_header(tmp_path):
    from openpyxl import load_workbook

    f = _frame()
    tables = [PublishedTable("all sites", "Participant flow", "all_funnel_counts.csv", f),
              PublishedTable("Site A (S01)", "Participant flow", "s01_funnel_counts.csv", f.iloc[:2]),
              PublishedTable("Site A (S01)", "Comparison of sites", "s01_site_funnel.csv", f),
              PublishedTable("Site B (S02)", "Comparison of sites", "s02_site_funnel.csv", f)]
    book = WorkbookBuilder(title="Test release")
    book.add(tables[:2])
    book.add(tables[2:])  # in parts, as the release adds each page's tables
    path = book.save(tmp_path / "t.xlsx", stamp=STAMP)
    wb = load_workbook(path)
    # the comparison shown identically on two pages is one sheet, listed with both reports
    assert wb.sheetnames == ["Notes", "Contents", "All funnel counts", "S01 funnel counts", "S01 site funnel"]
    contents = pd.read_excel(path, sheet_name="Contents")
    assert contents["also in"].tolist()[2] == "Site B (S02)" and contents["rows"].tolist() == [4, 2, 4]
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2" and ws.auto_filter.ref, ws.title
    sheet = pd.read_excel(path, sheet_name="All funnel counts")
    assert sheet.columns[:3].tolist() == ["Stage", "Number of people", "Number of people: note"]
    for c in ("Number of people", "% of referred", "Value", "95% CI: lower"):
        assert pd.api.types.is_numeric_dtype(sheet[c]), c
    assert wb["All funnel counts"]["D3"].number_format == "0.00%" and wb["All funnel counts"]["E3"].number_format \
        == "£#,##0"
    notes = dict(pd.read_excel(path, sheet_name="Notes").values)
    assert "between 0 and 1" in notes["Units"] and "[c]" in notes["Shorthand"]
    # the same file, byte for byte, however the tables are added
    one = WorkbookBuilder(title="Test release")
    one.add(tables)
    assert one.save(tmp_path / "u.xlsx", stamp=STAMP).read_bytes() == path.read_bytes()


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    from dapp_eval.report import render_release

    out = tmp_path_factory.mktemp("wb") / "out"
    with figures_not_drawn():
        paths = render_release(SYNTHETIC, out, sites=["S03"], progress=False)  # the audit passes on it
    return paths


def test_release_workbook_reads_as_numbers_in_pandas(release):
    from openpyxl import load_workbook

    path = release[-2]
    wb = load_workbook(path)
    names = wb.sheetnames
    assert names[:2] == ["Notes", "Contents"]
    assert not any(re.fullmatch(r"T\d+", n) for n in names) and len({n.lower() for n in names}) == len(names)
    sheets = pd.read_excel(path, sheet_name=None)
    contents = sheets["Contents"]
    assert contents["sheet"].tolist() == names[2:]
    seen = set()
    marker = re.compile(r"^(<\d[\d,.]*|\[c\])$")
    for name in names[2:]:
        df = sheets[name]
        ws = wb[name]
        assert ws.freeze_panes == "A2" and ws.auto_filter.ref.startswith("A1:"), name
        key = df.to_csv(index=False)
        assert key not in seen, f"sheet {name} repeats another"
        seen.add(key)
        codes = contents.loc[contents["sheet"] == name, "column codes"].iloc[0].split("; ")
        assert len(codes) == df.shape[1], name
        for code, col in zip(codes, df.columns):
            vals = df[col].dropna()
            numbers = vals.map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool))
            notes = code.endswith((" note", " unit"))
            if not notes and (code == "n" or code.startswith("n_") or numbers.any() and numbers.mean() > 0.5):
                # a numeric column holds numbers only: the shorthand is in its note column
                assert numbers.all(), (name, col, vals[~numbers].tolist()[:3])
            if numbers.any():
                assert not vals.map(lambda v: isinstance(v, str) and bool(marker.match(v))).any(), (name, col)
    # the key figures are numbers with formats: the headline completion rate, its interval and the cost
    head = sheets["S03 headline figures"].set_index("Figure")
    rate = head.loc["Completion rate"]
    assert 0 < rate["Value"] < 1 and rate["Value: unit"] == "proportion (shown as %)"
    assert rate["95% CI: lower"] < rate["Value"] < rate["95% CI: upper"]
    assert head.loc["Cost per completion", "Value: unit"] == "£" and head.loc["Cost per completion", "Value"] > 100
    ws = wb["S03 headline figures"]
    fmts = {ws.cell(row=r, column=1).value: ws.cell(row=r, column=2).number_format for r in range(2, ws.max_row + 1)}
    assert fmts["Completion rate"] == "0%" and fmts["Cost per completion"] == "£#,##0"
    # ... and the page's card quotes the same value
    page = next(p for p in release if p.name == "report_s03.html").read_text(encoding="utf-8")
    card = re.search(r'<h4 class="m"><a href="[\w.]*#[\w-]+">Completion rate</a></h4>\s*<p class="v">(\d+)%', page)
    assert card and int(card.group(1)) == round(100 * rate["Value"])


# ---------------------------------------------------------------------------
# the glossary, complete by test
# ---------------------------------------------------------------------------


def test_every_listed_technical_term_has_a_plain_definition():
    from dapp_eval.commissioner.glossary import GLOSSARY, TECHNICAL_TERMS, glossary, terms_used
    from dapp_eval.formatting import find_code_names

    assert set(TECHNICAL_TERMS.values()) <= set(GLOSSARY)
    # the terms a commissioner met undefined (issue 29), each found by the list and defined
    for words, term in [("Kaplan-Meier retention", "Kaplan-Meier estimator"),
                        ("unweighted GEE", "Generalised estimating equations (GEE)"),
                        ("exact McNemar", "McNemar test"), ("Holm-adjusted", "Holm adjustment"),
                        ("95% Wilson CI", "Wilson interval"), ("the hazard ratio", "Hazard ratio"),
                        ("Cost per targeted completion", "Cost per targeted completion"),
                        ("cumulative incidence (Aalen-Johansen)", "Aalen-Johansen estimator"),
                        ("reliable change (Jacobson-Truax)", "Reliable change"),
                        ("competing risks", "Competing risks"), ("Cost per completion", "Cost per completion"),
                        ("cost per referral", "Cost per referral"), ("Cost per start", "Cost per start"),
                        ("difference (Newcombe)", "Newcombe interval")]:
        assert term in terms_used(words), words
    g = glossary(level="90%")
    for text in g["definition"]:
        assert find_code_names(text) == [], text
    assert "90%" in g.set_index("term").loc["Confidence interval (CI)", "definition"]


def _page_text(html: str) -> tuple[str, str]:
    """(the page's words before its glossary, the glossary's HTML)."""
    at = html.index('<h3 id="glossary">')
    body = re.sub(r"data:[^\"')]+", "", html[:at])
    return _html.unescape(re.sub(r"<[^>]+>", " ", body)), html[at:]


def test_every_technical_term_used_on_a_page_is_in_its_glossary(release):
    from dapp_eval.commissioner.glossary import terms_used

    for path in release:
        if path.suffix != ".html" or path.name in ("index.html",) or path.name.endswith("_annex.html"):
            continue
        # a report and its technical annex (which holds the glossary) are read together
        annex = path.with_name(path.stem + "_annex.html").read_text(encoding="utf-8")
        words, glossary_html = _page_text(annex)
        words += " " + _page_text(path.read_text(encoding="utf-8") + '<h3 id="glossary">')[0]
        used = terms_used(words)
        assert {"Kaplan-Meier estimator", "Holm adjustment", "Wilson interval", "Aalen-Johansen estimator",
                "Cost per completion"} <= set(used), path.name  # (the list does find what the pages say)
        defined = {_html.unescape(t) for t in re.findall(r"<dt>([^<]+)</dt>", glossary_html)}
        missing = [t for t in used if t not in defined]
        assert missing == [], f"{path.name}: used but not in its glossary: {missing}"


# ---------------------------------------------------------------------------
# this year against last, beside the SPC charts
# ---------------------------------------------------------------------------


def _published_csvs(html: str) -> dict[str, pd.DataFrame]:
    import base64

    from dapp_eval.formatting import read_published_csv

    return {name: read_published_csv(base64.b64decode(data).decode("utf-8"))
            for name, data in re.findall(r'download="([^"]+)" href="data:text/csv;base64,([^"]+)"', html)}


def test_this_year_against_last_is_worked_from_the_published_years(release):
    """Each year's count is published once (rounded or withheld) and every figure, the difference and its
    interval are worked from those published counts (issue 26: before, from the published quarters, whose
    sums carried every quarter's rounding; the test follows the deliberate change)."""
    from dapp_eval import load_programme
    from dapp_eval.analyses import trends as tr
    from dapp_eval.analyses.yearly import compare, year_on_year
    from dapp_eval.disclosure import DisclosureControl

    page = next(p for p in release if p.name == "report_s03.html").read_text(encoding="utf-8")
    trends = page[page.index("<h2>Trends by quarter"):page.index("<h2>Retention and attrition")]
    block = trends[trends.index('<h3 id="this-year-against-last">This year against last</h3>'):]
    # page 1 links to it, and its first line answers the question in plain words
    assert 'href="#this-year-against-last"' in page[:page.index("<h2>Trends by quarter")]
    assert re.sub(r"<[^>]+>", "", block).split("\n")[2].startswith("Is it improving this year? ")
    assert "Statistical process control chart" not in block  # a block of its own, after the charts
    csvs = _published_csvs(page)
    # (a signed figure is quoted in the CSV, as any text a spreadsheet could run: "'+6")
    yoy = csvs["s03_year_on_year.csv"].apply(lambda c: c.str.removeprefix("'")).set_index("Measure")
    assert set(yoy["Reading"]) <= {"higher than last year, beyond chance", "lower than last year, beyond chance",
                                   "no clear change"} | {r for r in yoy["Reading"] if r.startswith("not ")}
    spc = tr.quarterly_spc(load_programme(SYNTHETIC).subset(sites=["S03"])).summary
    dc = DisclosureControl()
    # completion: each year's true count, rounded by hand, then Newcombe's interval of the rounded counts
    g = spc[spc["measure"] == "completion"]
    r = year_on_year(g[["quarter", "partial", "n_numerator", "n_denominator"]], kind="proportion")
    k1, n1, k0, n0 = (dc.published_count(r[c]) for c in ("k_this", "n_this", "k_last", "n_last"))
    c = compare(k1, n1, k0, n0, kind="proportion")
    row = yoy.loc["Completion within the planned length + grace"]
    assert (row["Last year"], row["This year"]) == (r["last_year"], r["this_year"])
    assert row["Quarters compared"] == f"{r['quarters']} of each year"
    assert row["This year's figure"] == f"{100 * k1 / n1:.0f}%" and row["Last year's figure"] == f"{100 * k0 / n0:.0f}%"
    assert row["Difference"] == f"{100 * c['difference']:+.0f} percentage points"
    assert row["95% CI"] == f"{100 * c['ci_lower']:+.0f} to {100 * c['ci_upper']:+.0f} percentage points"
    assert row["Reading"] == c["reading"]
    # referrals: each year's count published (a multiple of 5), the Poisson difference of the published counts
    g = spc[spc["measure"] == "referrals"].assign(n_denominator=float("nan"))
    r = year_on_year(g[["quarter", "partial", "n_numerator", "n_denominator"]], kind="count")
    k1, k0 = dc.published_count(r["k_this"]), dc.published_count(r["k_last"])
    c = compare(k1, None, k0, None, kind="count")
    row = yoy.loc["Referrals received"]
    assert (row["This year's figure"], row["Last year's figure"]) == (f"{k1:,}", f"{k0:,}")
    assert row["Difference"] == f"{c['difference']:+,.0f}" and row["Reading"] == c["reading"]
    # the sentence above the table says the same
    words = _html.unescape(re.sub(r"<[^>]+>", " ", block))
    assert f"Referrals received: {k1:,} in {r['this_year']} against {k0:,} in {r['last_year']}" in words


@pytest.mark.parametrize("scope", ["all", "s03"])
def test_partners_fewer_answers_later_is_explained_from_the_published_counts(release, scope):
    """Issue 29: answers fall from the first survey to the last; beside the chart the page says why (not yet due,
    not answered, not eligible), quoting the counts of the published behaviours table (its primary row)."""
    name = "all_sites" if scope == "all" else scope
    page = next(p for p in release if p.name == f"report_{name}.html").read_text(encoding="utf-8")
    annex = next(p for p in release if p.name == f"report_{name}_annex.html").read_text(encoding="utf-8")
    pv = _published_csvs(annex)[f"{scope}_safety_prevalence.csv"]
    prim = pv[pv["role"] == "primary"].set_index("wave")["n_answered"]
    waves = [w for w in ("T1", "T2", "T3", "T4") if w in prim.index]
    safety = page[page.index("<h2>Safety of (ex-)partners"):]
    text = _html.unescape(re.sub(r"<[^>]+>", "", safety))
    assert (f"Why fewer answers at later surveys: {prim[waves[0]]} (ex-)partners answered at {waves[0]} and "
            f"{prim[waves[-1]]} at {waves[-1]}.") in text
    said = text[text.index("Why fewer answers"):].split("\n")[0]
    assert all(w in said for w in ("Not yet due", "Not answered", "Not eligible"))
    # beside the chart of the behaviours: right after it, before the paired change
    assert safety.index("Reported behaviours by wave") < safety.index("Why fewer answers") \
        < safety.index("Paired change")

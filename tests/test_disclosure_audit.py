"""The built-in attacker: each attack catches a leak planted for it, and protected releases pass.

Hand-made releases (a few small HTML pages with CSV downloads, the format the
report writes) plant one leak per attack with a known hidden value; the same
tables passed through :class:`DisclosureControl` must pass. Whole rendered
releases are attacked in tests/test_disclosure_release_*.py (one file each, so that they render in parallel).
"""

from __future__ import annotations

import base64
from pathlib import Path

import pandas as pd
import pytest

from dapp_eval.disclosure import DisclosureControl
from dapp_eval.disclosure.audit import audit_release


def _page(scope: str, tables: dict[str, pd.DataFrame], *, threshold: int = 10, period: str | None = None,
          rounded: bool = False, extra: str = "") -> str:
    """A minimal report page: the 'About this report' table and one CSV download per table.

    ``rounded`` adds the page-1 sentence that says counts are rounded to 5 (as a protected report does).
    """
    prog = "all sites" if scope == "all" else f"Site {scope} (synthetic) ({scope})"
    inscope = f"received {period}" if period else "all referrals in the data"
    about = (f'<table class="dt"><caption>About this report</caption><tbody>'
             f'<tr><th>Programme</th><td>{prog}</td></tr><tr><th>Referrals in scope</th><td>{inscope}</td></tr>'
             f'<tr><th>Small-number threshold</th><td>counts below {threshold} are hidden</td></tr></tbody></table>')
    body = [about] + (["<p>Every other count is rounded to the nearest 5.</p>"] if rounded else [])
    prefix = "all" if scope == "all" else scope.lower()
    for name, df in tables.items():
        data = base64.b64encode(df.to_csv(index=False).encode()).decode()
        body.append(f'<table class="dt"><caption>{name}</caption></table>'
                    f'<div class="dl"><a download="{prefix}_{name}.csv" href="data:text/csv;base64,{data}">csv</a></div>')
    return "<html><body>" + "".join(body) + extra + "</body></html>"


def _html_table(caption: str, df: pd.DataFrame) -> str:
    """A table shown on the page only (no CSV download), as a chart's data under <details>."""
    head = "".join(f'<th scope="col">{c}</th>' for c in df.columns)
    rows = "".join("<tr>" + "".join(f"<td>{v}</td>" for v in r) + "</tr>" for r in df.astype(str).values)
    return (f'<figure><img alt="chart" src="data:image/png;base64,AAAA"><details class="figdata"><summary>The data '
            f'drawn in this chart</summary><table class="dt"><caption>{caption}</caption><thead><tr>{head}</tr>'
            f"</thead><tbody>{rows}</tbody></table></details></figure>")


def _release(tmp_path: Path, pages: dict[str, str]) -> Path:
    out = tmp_path / "release"
    out.mkdir(parents=True)
    for name, html in pages.items():
        (out / name).write_text(html, encoding="utf-8")
    return out


def _sites(ids):
    return pd.DataFrame({"site_id": ids, "n": [100] * len(ids)})


def _funnel(stage_n: dict[str, int]):
    levels = {"Referred": "intermediate", "Assessed": "intermediate", "Started": "intermediate"}
    return pd.DataFrame({"stage": list(stage_n), "level": [levels.get(s, "terminal") for s in stage_n],
                         "n": list(stage_n.values())})


def _protect(df, **kw):
    return DisclosureControl().table(df, name="t", **kw)


def _exact(df):
    """Old style: small counts hidden, the rest published exactly."""
    out = df.copy()
    for c in [c for c in out if c == "n" or str(c).startswith("n_")]:
        out[c] = ["<10" if 0 < v < 10 else str(v) for v in out[c]]
    return out


def _leaks(path):
    res = audit_release(path)
    return res, {(x.report, x.table, x.row.split(" / ")[0], x.column, x.value, x.attack) for x in res.leaks}


# one site's dropouts are 41 - 22 - 15 = 4 (the first example)
DROPS = {"all": 41, "S01": 22, "S02": 15, "S03": 4}


def _drop_table(v):
    return pd.DataFrame({"outcome": ["completed", "dropped out"], "n": [60 + v, v]})


def test_across_reports_overall_minus_other_sites(tmp_path):
    pages = {f"report_{s.lower() if s != 'all' else 'all_sites'}.html":
             _page(s, {"exits": _exact(_drop_table(v)), "site_funnel": _sites(["S01", "S02", "S03"])})
             for s, v in DROPS.items()}
    res, leaks = _leaks(_release(tmp_path, pages))
    assert not res.ok
    assert ("report_s03.html", "exits", "dropped out", "n", 4, "across reports") in leaks
    assert "worked back to 4 by across reports" in res.text()


def test_across_reports_is_defeated_by_rounding(tmp_path):
    pages = {f"report_{s.lower() if s != 'all' else 'all_sites'}.html":
             _page(s, {"exits": _protect(_drop_table(v)), "site_funnel": _sites(["S01", "S02", "S03"])})
             for s, v in DROPS.items()}
    res = audit_release(_release(tmp_path, pages))
    # 40 - 20 - 15 = 5, but each of the three rounded counts may be off by 2: anything from -1 to 11
    assert res.ok and res.rounded and res.base == 5
    assert res.relations["across reports"] == 2   # one equation per row of n (site_funnel is the same everywhere)


def test_row_totals_minus_the_rest(tmp_path):
    # Referred 50 = declined (hidden) + awaiting 0 + assessed 47: the hidden stage is 3
    f = _funnel({"Referred": 50, "Declined assessment": 3, "Awaiting assessment": 0, "Assessed": 47,
                 "Unsuitable": 12, "Started": 35, "Completed": 20, "Dropped out": 15})
    res, leaks = _leaks(_release(tmp_path, {"report_s01.html": _page("S01", {"funnel_counts": _exact(f)})}))
    assert ("report_s01.html", "funnel_counts", "Declined assessment", "n", 3, "row and column totals") in leaks
    clean = audit_release(_release(tmp_path / "b", {"report_s01.html": _page("S01", {"funnel_counts": _protect(f)}, rounded=True)}))
    assert clean.ok


def test_column_totals_minus_the_rest(tmp_path):
    # n = n_event + n_competing + n_censored: 212 - 176 - 32 = 4 still waiting
    w = pd.DataFrame({"n": [212], "n_event": [176], "n_competing": [32], "n_censored": [4], "median_weeks": [4.9]})
    res, leaks = _leaks(_release(tmp_path, {"report_s01.html": _page("S01", {"wait_referral_to_assessment":
                                                                             _exact(w)})}))
    assert ("report_s01.html", "wait_referral_to_assessment", "0", "n_censored", 4, "row and column totals") in leaks
    clean = audit_release(_release(tmp_path / "b", {"report_s01.html": _page(
        "S01", {"wait_referral_to_assessment": _protect(w)}, rounded=True)}))
    assert clean.ok


def test_same_table_across_thresholds(tmp_path):
    t = pd.DataFrame({"outcome": ["completed", "dropped out"], "n": [64, 7]})
    at5 = t.assign(n=[str(v) for v in t["n"]])         # threshold 5 publishes the 7
    pages = {"report_s01.html": _page("S01", {"exits": _exact(t)}),
             "report_s01_t5.html": _page("S01", {"exits": at5}, threshold=5)}
    res, leaks = _leaks(_release(tmp_path, pages))
    assert ("report_s01.html", "exits", "dropped out", "n", 7, "across thresholds") in leaks


def test_same_table_across_periods(tmp_path):
    # a period report publishes 9 unsuitable; the whole-data report hides its count, which is at least 9: so 9
    whole = pd.DataFrame({"outcome": ["suitable", "unsuitable"], "n": [120, 9]})
    part = pd.DataFrame({"outcome": ["suitable", "unsuitable"], "n": ["60", "9"]})
    pages = {"report_s01.html": _page("S01", {"exits": _exact(whole)}),
             "report_s01_2024.html": _page("S01", {"exits": part}, threshold=5, period="2024-01-01 to 2024-12-31")}
    res, leaks = _leaks(_release(tmp_path, pages))
    assert ("report_s01.html", "exits", "unsuitable", "n", 9, "across periods") in leaks


def test_period_family_overall_minus_sites(tmp_path):
    # the example: a --period release of the same sites leaks the same way (27 - 26 = 1)
    per = "2024-01-01 to 2024-12-31"
    vals = {"all": 27, "S01": 26, "S02": 1}
    pages = {f"report_{s.lower() if s != 'all' else 'all_sites'}_p.html":
             _page(s, {"exits": _exact(pd.DataFrame({"outcome": ["suitable", "unsuitable"], "n": [80, v]})),
                       "site_funnel": _sites(["S01", "S02"])}, period=per) for s, v in vals.items()}
    res, leaks = _leaks(_release(tmp_path, pages))
    assert ("report_s02_p.html", "exits", "unsuitable", "n", 1, "across reports") in leaks


def test_denominators_and_conversion_columns(tmp_path):
    # the conversion table's n_resolved is referred minus those awaiting assessment: 379 - 378 = 1; the funnel
    # alone cannot give it away (declined 3 and awaiting 1 are both hidden: together 4)
    f = _funnel({"Referred": 379, "Declined assessment": 3, "Awaiting assessment": 1, "Assessed": 375})
    conv = pd.DataFrame({"conversion": ["assessed_of_referred"], "n_converted": [375], "n_resolved": [378],
                         "n_open": [1]})
    page = _page("S01", {"funnel_counts": _exact(f), "funnel_conversion": _exact(conv)})
    res, leaks = _leaks(_release(tmp_path, {"report_s01.html": page}))
    assert ("report_s01.html", "funnel_counts", "Awaiting assessment", "n", 1, "denominators and conversions") in leaks
    clean = audit_release(_release(tmp_path / "b", {"report_s01.html": _page(
        "S01", {"funnel_counts": _protect(f), "funnel_conversion": _protect(conv)}, rounded=True)}))
    assert clean.ok


def test_percentage_times_denominator(tmp_path):
    # 17.5% of 40 is 7, published beside a hidden count
    t = pd.DataFrame({"variable": ["employed", "employed"], "level": ["yes", "no"], "n": [7, 33],
                      "n_group": [40, 40], "pct": [17.5, 82.5]})
    shown = _exact(t)
    res, leaks = _leaks(_release(tmp_path, {"report_s01.html": _page("S01", {"table1": shown})}))
    assert ("report_s01.html", "table1", "employed", "n", 7, "percentage x denominator") in leaks or \
        ("report_s01.html", "table1", "employed", "n", 7, "row and column totals") in leaks
    # with the block sum (n_group = sum of n) unavailable, the percentage alone still pins it
    only = shown.iloc[[0]].assign(n_group="40")
    res2, leaks2 = _leaks(_release(tmp_path / "b", {"report_s01.html": _page("S01", {"table1": only})}))
    assert ("report_s01.html", "table1", "employed", "n", 7, "percentage x denominator") in leaks2
    clean = audit_release(_release(tmp_path / "c", {"report_s01.html": _page("S01", {"table1": _protect(t)}, rounded=True)}))
    assert clean.ok


def test_audit_cli_exit_codes(tmp_path):
    bad = _release(tmp_path, {f"report_{s.lower() if s != 'all' else 'all_sites'}.html":
                              _page(s, {"exits": _exact(_drop_table(v)), "site_funnel": _sites(["S01", "S02", "S03"])})
                              for s, v in DROPS.items()})
    from dapp_eval.cli import main

    assert main(["audit", str(bad), "--csv", str(tmp_path / "leaks.csv")]) == 1
    assert pd.read_csv(tmp_path / "leaks.csv")["value"].tolist() == [4]
    good = _release(tmp_path / "g", {"report_s01.html": _page("S01", {"exits": _protect(_drop_table(4))}, rounded=True)})
    assert main(["audit", str(good)]) == 0
    with pytest.raises(FileNotFoundError):
        audit_release(tmp_path / "missing")


def test_publish_release_moves_only_a_clean_release(tmp_path):
    from dapp_eval.disclosure.release import DisclosureAuditError, publish_release

    final = tmp_path / "out"
    final.mkdir()
    (final / "keep.txt").write_text("left alone")
    leaky = _release(tmp_path / "leaky", {f"report_{s.lower() if s != 'all' else 'all_sites'}.html":
                                          _page(s, {"exits": _exact(_drop_table(v)),
                                                    "site_funnel": _sites(["S01", "S02", "S03"])})
                                          for s, v in DROPS.items()})
    with pytest.raises(DisclosureAuditError, match="worked back to 4 by across reports"):
        publish_release(leaky, final)
    assert not leaky.exists() and sorted(p.name for p in final.iterdir()) == ["keep.txt"]
    clean = _release(tmp_path / "clean", {"report_s01.html": _page("S01", {"exits": _protect(_drop_table(4))},
                                                                   rounded=True)})
    moved = publish_release(clean, final)
    assert [p.name for p in moved] == ["report_s01.html"] and not clean.exists()
    assert sorted(p.name for p in final.iterdir()) == ["keep.txt", "report_s01.html"]


# ---------------------------------------------------------------------------
# everything published is read: page text, chart data, page tables, the workbook
# ---------------------------------------------------------------------------

# accepted = started + awaiting start: 33 = 29 + 4; the table hides accepted ([c]) and awaiting start (<10)
_ACCEPT = pd.DataFrame({"stage": ["Accepted", "Started", "Awaiting start"],
                        "level": ["intermediate", "terminal", "terminal"], "n": ["[c]", "29", "<10"]})


def test_page_text_naming_a_hidden_cell_is_caught(tmp_path):
    # the example: "n = 33 accepted" printed beside a table that marks accepted [c]
    text = "<p>Of those assessed, n = 33 accepted a place.</p>"
    res, leaks = _leaks(_release(tmp_path, {"report_s01.html": _page("S01", {"funnel_counts": _ACCEPT},
                                                                      extra=text)}))
    assert ("report_s01.html", "funnel_counts", "Awaiting start", "n", 4, "row and column totals") in leaks
    assert res.relations["page text"] == 1
    # the same sentence without the count: nothing to work back
    quiet = "<p>Of those assessed, most accepted a place.</p>"
    assert audit_release(_release(tmp_path / "b", {"report_s01.html": _page("S01", {"funnel_counts": _ACCEPT},
                                                                            extra=quiet)})).ok


def test_small_or_unrounded_counts_in_page_text_are_caught(tmp_path):
    # "x of y" phrases about people; "6 of 8 quarters" is not a count of people and is not flagged
    text = "<p>The target was met in 6 of 8 complete quarters. 4 of 60 people were excluded.</p>"
    res, leaks = _leaks(_release(tmp_path, {"report_s01.html": _page("S01", {"exits": _exact(_drop_table(4))},
                                                                      extra=text)}))
    assert {(x.value, x.attack) for x in res.leaks} == {(4, "page text")}
    # in a rounded release a count printed unrounded is a leak by itself (it un-rounds its table's cells)
    rtext = '<p>n = 33 people accepted.</p><img alt="Completion: 64 of 71 people completed" src="x.png">'
    res2 = audit_release(_release(tmp_path / "b", {"report_s01.html": _page(
        "S01", {"exits": _protect(_drop_table(4))}, rounded=True, extra=rtext)}))
    assert sorted((x.value, x.attack) for x in res2.leaks) == [(33, "page text"), (64, "page text"), (71, "page text")]
    ok = '<p>n = 35 people accepted.</p><img alt="Completion: 65 of 70 people completed" src="x.png">'
    assert audit_release(_release(tmp_path / "c", {"report_s01.html": _page(
        "S01", {"exits": _protect(_drop_table(4))}, rounded=True, extra=ok)})).ok


def test_an_analysis_message_with_counts_is_caught_and_protect_counts_makes_it_safe(tmp_path):
    # found on a --period release: 'not available' printed the analysis's reason with its counts
    from dapp_eval.disclosure import protect_counts

    why = "no one is eligible for the before/after comparison yet (246 people referred; still attending: 240; " \
          "left early: 3)"
    res = audit_release(_release(tmp_path, {"report_s01.html": _page(
        "S01", {"exits": _protect(_drop_table(4))}, rounded=True, extra=f"<p class='na'>{why}</p>")}))
    assert sorted((x.value, x.attack) for x in res.leaks) == [(3, "page text"), (246, "page text")]
    safe = protect_counts(why, DisclosureControl())
    assert safe.endswith("(245 people referred; still attending: 240; left early: <10)")
    assert audit_release(_release(tmp_path / "b", {"report_s01.html": _page(
        "S01", {"exits": _protect(_drop_table(4))}, rounded=True, extra=f"<p class='na'>{safe}</p>")})).ok


def test_chart_data_under_details_is_decoded_and_attacked(tmp_path):
    # the data table of a chart (HTML only, inside <details>) carries a total beside a hidden part: 68 - 64 = 4
    chart = pd.DataFrame({"outcome": ["completed", "dropped out", "all"], "n": ["64", "<10", "68"]})
    res, leaks = _leaks(_release(tmp_path, {"report_s01.html": _page(
        "S01", {}, extra=_html_table("Exits drawn in the chart", chart))}))
    assert ("report_s01.html", "exits_drawn_in_the_chart", "dropped out", "n", 4, "row and column totals") in leaks
    # in a rounded release, a bar height published unrounded is caught even without a relation
    bars = pd.DataFrame({"quarter": ["Q1", "Q2"], "n_referrals": ["55", "43"]})
    res2 = audit_release(_release(tmp_path / "b", {"report_s01.html": _page(
        "S01", {"exits": _protect(_drop_table(4))}, rounded=True, extra=_html_table("Referrals per quarter", bars))}))
    assert [(x.table, x.value, x.attack) for x in res2.leaks] == [("referrals_per_quarter", 43, "unrounded count")]
    rounded_bars = bars.assign(n_referrals=["55", "45"])
    assert audit_release(_release(tmp_path / "c", {"report_s01.html": _page(
        "S01", {"exits": _protect(_drop_table(4))}, rounded=True,
        extra=_html_table("Referrals per quarter", rounded_bars))})).ok


def test_page_table_that_differs_from_its_csv_is_attacked(tmp_path):
    # the CSV hides the dropout count, the table on the page shows it: same table, same cells
    html = _page("S01", {"exits": _exact(_drop_table(4))})
    html = html.replace('<table class="dt"><caption>exits</caption></table>',
                        '<table class="dt"><caption>exits</caption><tr><th>outcome</th><th>n</th></tr>'
                        '<tr><td>completed</td><td>64</td></tr><tr><td>dropped out</td><td>4</td></tr></table>')
    res, leaks = _leaks(_release(tmp_path, {"report_s01.html": html}))
    assert ("report_s01.html", "exits", "dropped out", "n", 4, "across outputs") in leaks
    same = _page("S01", {"exits": _exact(_drop_table(4))}).replace(
        '<table class="dt"><caption>exits</caption></table>',
        '<table class="dt"><caption>exits</caption><tr><th>outcome</th><th>n</th></tr>'
        '<tr><td>completed</td><td>64</td></tr><tr><td>dropped out</td><td>&lt;10</td></tr></table>')
    assert audit_release(_release(tmp_path / "b", {"report_s01.html": same})).ok


def _workbook(path: Path, sheets: list[tuple[str, str, pd.DataFrame]]) -> None:
    """A release workbook as report/workbook.py writes it: contents sheet, then a title row and a header per sheet."""
    from openpyxl import Workbook

    wb = Workbook()
    c = wb.active
    c.title = "Contents"
    c.append(["title"])
    c.append(["note"])
    c.append([])
    c.append(["sheet", "report", "title", "notes", "csv file", "rows"])
    for i, (report, csv_name, df) in enumerate(sheets, 1):
        c.append([f"T{i:03d}", report, csv_name, "", csv_name, len(df)])
        ws = wb.create_sheet(f"T{i:03d}")
        ws.append([f"{report}: {csv_name}"])
        ws.append(list(df.columns))
        for rec in df.itertuples(index=False):
            ws.append([int(v) if str(v).isdigit() else v for v in rec])
    wb.save(path)


def test_workbook_sheet_is_tied_to_its_report_table(tmp_path):
    pages = {"report_s01.html": _page("S01", {"exits": _exact(_drop_table(4))})}
    rel = _release(tmp_path, pages)
    _workbook(rel / "tables.xlsx", [("Site S01 (synthetic) (S01)", "s01_exits.csv", _drop_table(4))])
    res, leaks = _leaks(rel)
    assert ("report_s01.html", "exits", "dropped out", "n", 4, "across outputs") in leaks
    rel2 = _release(tmp_path / "b", pages)
    _workbook(rel2 / "tables.xlsx", [("Site S01 (synthetic) (S01)", "s01_exits.csv", _exact(_drop_table(4)))])
    res2 = audit_release(rel2)
    assert res2.ok and res2.n_tables == 1   # the sheet repeats the report's table exactly: nothing new
    # in a rounded release, an unrounded sheet is caught on its own
    rel3 = _release(tmp_path / "c", {"report_s01.html": _page("S01", {"exits": _protect(_drop_table(4))},
                                                              rounded=True)})
    _workbook(rel3 / "tables.xlsx", [("Site S01 (synthetic) (S01)", "s01_exits.csv", _drop_table(21))])
    assert [(x.report, x.value, x.attack) for x in audit_release(rel3).leaks] == [
        ("tables.xlsx", 81, "unrounded count"), ("tables.xlsx", 21, "unrounded count")]


def test_percentage_of_the_first_row_needs_its_100_percent(tmp_path):
    # "% of referred" pins a hidden stage (6.0% of 50 = 3); a CI bound beside counts is not a share of the first
    # row (found as a false leak on a small --period release: ci_lower = n_open / n_open of the first row)
    f = pd.DataFrame({"stage": ["Referred", "Declined", "Assessed"], "n": ["50", "<10", "47"],
                      "% of referred": ["100.0", "6.0", "94.0"]})
    res, leaks = _leaks(_release(tmp_path, {"report_s01.html": _page("S01", {"funnel": f})}))
    assert ("report_s01.html", "funnel", "Declined", "n", 3, "percentage x denominator") in leaks
    ci = f.rename(columns={"% of referred": "ci_lower"}).assign(ci_lower=["", "0.06", "0.9"])
    assert audit_release(_release(tmp_path / "b", {"report_s01.html": _page("S01", {"funnel": ci})})).ok


def test_disjoint_periods_add_up_to_their_union(tmp_path):
    # issue 26: two half-years that make up a published year add up to it: 20 - 14 = 6 hidden in the second half
    year, h1, h2 = "2024-01-01 to 2024-12-31", "2024-01-01 to 2024-06-30", "2024-07-01 to 2024-12-31"
    pages = {"report_s01_y.html": _page("S01", {"exits": _exact(pd.DataFrame({"outcome": ["a", "b"], "n": [90, 20]}))},
                                        period=year),
             "report_s01_h1.html": _page("S01", {"exits": _exact(pd.DataFrame({"outcome": ["a", "b"], "n": [40, 14]}))},
                                         period=h1),
             "report_s01_h2.html": _page("S01", {"exits": _exact(pd.DataFrame({"outcome": ["a", "b"], "n": [50, 6]}))},
                                         period=h2)}
    res, leaks = _leaks(_release(tmp_path, pages))
    assert ("report_s01_h2.html", "exits", "b", "n", 6, "across periods") in leaks
    # the halves alone (no union published) give nothing back
    del pages["report_s01_y.html"]
    assert audit_release(_release(tmp_path / "b", pages)).ok


def test_shown_at_threshold_t_means_at_least_t(tmp_path):
    """A count shown as a number at threshold T is at least T: at threshold 7 a true 7 rounded to 5 could only
    be 7 (issue 26). The audit uses the rule; the control now shows such a count as 10 (7 to 12)."""
    t = pd.DataFrame({"outcome": ["completed", "dropped out"], "n": [64, 7]})
    old = t.assign(n=["65", "5"])  # rounded to the nearest 5 without the rule
    res, leaks = _leaks(_release(tmp_path / "old", {"report_s01.html": _page("S01", {"exits": old}, threshold=7,
                                                                               rounded=True)}))
    assert any(x[4] == 7 and x[2] == "dropped out" for x in leaks), res.text()
    dc = DisclosureControl(threshold=7)
    new = dc.table(t, name="exits")
    assert new["n"].tolist() == ["65", "10"]
    res = audit_release(_release(tmp_path / "new", {"report_s01.html": _page("S01", {"exits": new}, threshold=7,
                                                                             rounded=True)}), threshold=7)
    assert res.ok, res.text()


def test_text_drawn_in_an_svg_chart_is_read(tmp_path):
    """Issue 26: 44 chart labels carried unrounded counts ('n = 528') beside tables that said 530; the audit
    now decodes every SVG chart and reads its text as page text."""
    def svg(label):
        doc = f'<svg xmlns="http://www.w3.org/2000/svg"><g><text x="1" y="2">before</text><text x="1" y="9">{label}</text></g></svg>'
        return f'<figure><img alt="chart" src="data:image/svg+xml;base64,{base64.b64encode(doc.encode()).decode()}"></figure>'

    res = audit_release(_release(tmp_path / "a", {"report_s01.html": _page(
        "S01", {"exits": _protect(_drop_table(4))}, rounded=True, extra=svg("(n = 43 people)"))}))
    assert [(x.value, x.attack) for x in res.leaks] == [(43, "page text")], res.text()
    assert audit_release(_release(tmp_path / "b", {"report_s01.html": _page(
        "S01", {"exits": _protect(_drop_table(4))}, rounded=True, extra=svg("(n = 45 people)"))})).ok


def test_a_programme_name_with_numbers_is_not_a_count():
    """'Healthy Relationships 1-2-1' beside 'Partners feeling safer' in a chart is not '1 partners' (the release
    sweep found a 6-site release refused for it once chart text was read)."""
    from dapp_eval.disclosure.audit import _text_counts

    assert _text_counts("Westmere Healthy Relationships 1-2-1 Partners feeling safer") == []
    assert [c for c, *_ in _text_counts("n = 43 people; 4 of 60 people were excluded")] == [43, 4, 60]

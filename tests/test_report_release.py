"""Reports as a release (issue 14): one load, any validated export, byte-identical, spreadsheet-safe, atomic."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest
from conftest import ROOT, SYNTHETIC

from dapp_eval.report import render_release
from dapp_eval.report.format import publish_value, spreadsheet_safe

# a formula without a URL: a URL in any text column is refused by the identifier scan before it could be published
FORMULA_SITE = '=HYPERLINK(A1&B3,"Open")'


def _csvs(html: str):
    for name, data in re.findall(r'download="([^"]+)" href="data:text/csv;base64,([^"]+)"', html):
        yield name, base64.b64decode(data).decode("utf-8")


def test_published_values_are_rounded_to_what_the_page_shows():
    # the precision rules of the page: p to 3 decimals (floor 0.001), |x| < 1 to 3 significant digits, else 1 dp
    assert publish_value(0.123456789) == 0.123
    assert publish_value(0.000123456) == 0.000123
    assert publish_value(12.349999) == 12.3
    assert publish_value(41.0) == 41 and isinstance(publish_value(41.0), int)
    assert publish_value(0.0004, "p_value") == "< 0.001"
    assert publish_value(0.04567, "p_adjusted") == "0.046"
    # a last-digit difference from another BLAS kernel disappears
    assert publish_value(0.31234567891) == publish_value(0.31234567893)


def test_formula_text_is_quoted_and_numbers_stay_numbers():
    assert spreadsheet_safe(FORMULA_SITE) == "'" + FORMULA_SITE
    for s in ("+1", "@SUM(A1)", "\tx", "\rx", "-x"):
        assert spreadsheet_safe(s) == "'" + s
    assert spreadsheet_safe("-3.5") == "-3.5" and spreadsheet_safe(-3.5) == -3.5 and spreadsheet_safe(7) == 7
    assert spreadsheet_safe("<10") == "<10" and spreadsheet_safe("[c]") == "[c]"


@pytest.fixture(scope="module")
def mapped_export(tmp_path_factory):
    """data_synthetic as a provider might send it: own column names (mapped)."""
    folder = tmp_path_factory.mktemp("export") / "export"
    shutil.copytree(SYNTHETIC, folder)
    sites = pd.read_csv(folder / "sites.csv", dtype=str)
    sites.rename(columns={"site_name": "Service name"}).to_csv(folder / "sites.csv", index=False)
    ref = (folder / "referrals.csv").read_text(encoding="utf-8")
    (folder / "referrals.csv").write_text(ref.replace("referral_id,participant_id", "Ref No,Client", 1),
                                          encoding="utf-8")
    cmap = folder.parent / "map.yaml"
    cmap.write_text("tables:\n  sites:\n    columns:\n      Service name: site_name\n"
                    "  referrals:\n    columns:\n      Ref No: referral_id\n      Client: participant_id\n",
                    encoding="utf-8")
    return folder, cmap


def test_column_mapped_export_renders_quietly_and_is_spreadsheet_safe(mapped_export, tmp_path, capsys):
    from dapp_eval.cli import main
    from dapp_eval.errors import DataValidationError

    folder, cmap = mapped_export
    with pytest.raises(DataValidationError):  # without the map the export does not validate ...
        render_release(folder, tmp_path / "nomap", sites=["S05"], overall=False, progress=False)
    assert not (tmp_path / "nomap").exists()
    out = tmp_path / "out"
    # ... with it, it renders (the CLI, as a user would run it)
    assert main(["report", str(folder), "--out", str(out), "--column-map", str(cmap), "--site", "S05",
                 "--quiet"]) == 0
    cap = capsys.readouterr()
    assert cap.err == "", cap.err  # no kernel, setuptools or library warnings
    assert [ln.rsplit("/", 1)[-1] for ln in cap.out.split()] == [
        "report_all_sites.html", "report_all_sites_annex.html", "report_s05.html", "report_s05_annex.html",
        "tables.xlsx", "index.html"]
    page = (out / "report_s05.html").read_text(encoding="utf-8")
    # every CSV download: no text cell a spreadsheet would run
    for name, text in _csvs(page):
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        for c in df.columns:
            for v in df[c]:
                assert not v.startswith(("=", "+", "@", "\t", "\r")), f"{name} column {c}: {v!r}"
                assert not (v.startswith("-") and not re.fullmatch(r"-[\d.,]+", v)), f"{name} column {c}: {v!r}"
    from openpyxl import load_workbook

    wb = load_workbook(out / "tables.xlsx")
    texts, numbers = [], 0
    for ws in wb.worksheets:
        for row in ws.iter_rows(values_only=True):
            for v in row:
                if isinstance(v, str):
                    texts.append(v)
                numbers += isinstance(v, (int, float))
    assert not any(t.startswith(("=", "+", "@", "\t", "\r")) for t in texts)
    assert numbers > 1000  # counts and estimates are numbers in the workbook, not text


def test_a_formula_in_the_export_is_refused_before_anything_is_published(mapped_export, tmp_path, capsys):
    """Formula-like text never reaches a release: the loader refuses it (the writers quote it as well)."""
    from dapp_eval.cli import main

    folder, cmap = mapped_export
    bad = tmp_path / "bad"
    shutil.copytree(folder, bad)
    sites = pd.read_csv(bad / "sites.csv", dtype=str)
    sites.loc[sites["site_id"] == "S05", "Service name"] = FORMULA_SITE
    sites.to_csv(bad / "sites.csv", index=False)
    out = tmp_path / "out"
    assert main(["report", str(bad), "--out", str(out), "--column-map", str(cmap), "--quiet"]) != 0
    err = capsys.readouterr().err
    assert "look like spreadsheet formulas" in err and "HYPERLINK" not in err  # the value itself is not echoed
    assert not out.exists()


def test_workbook_lists_every_published_table(tmp_path):
    from openpyxl import load_workbook

    paths = render_release(SYNTHETIC, tmp_path / "out", sites=["S03"], overall=False, progress=False)
    page = paths[0].read_text(encoding="utf-8")
    # the report and its technical annex (the tables the body moved there) are the page's tables
    csvs = list(_csvs(page + paths[1].read_text(encoding="utf-8")))
    wb = load_workbook(paths[-2])
    assert wb.sheetnames[:2] == ["Notes", "Contents"]
    contents = list(wb["Contents"].iter_rows(min_row=2, values_only=True))
    # one sheet per table (a table shown twice on the page is one sheet), each listed on the contents sheet
    assert [r[0] for r in contents] == wb.sheetnames[2:]
    assert {r[4] for r in contents} == {name for name, _text in csvs}
    # the first table of a page is its headline figures (page 1), then the participant flow
    assert contents[0][:3] == ("S03 headline figures", "Millford Choices (synthetic) (S03)",
                               "Headline figures: the one value of each figure, as every part of this report quotes it")
    assert contents[1][2] == "Participant flow: people at each stage" and contents[1][4] == "s03_funnel_counts.csv"
    # a table sheet holds the rows of its CSV download under one header row (the CSV's plain words)
    from dapp_eval.formatting import read_published_csv

    first_csv = read_published_csv(csvs[0][1])
    sheet = pd.read_excel(paths[-2], sheet_name="S03 headline figures")
    assert sheet["Figure"].tolist() == first_csv["Figure"].tolist()


def test_an_error_leaves_the_output_folder_untouched(tmp_path, monkeypatch):
    from markupsafe import Markup

    from dapp_eval.report import render as render_mod

    out = tmp_path / "out"
    out.mkdir()
    (out / "index.html").write_text("previous release", encoding="utf-8")

    def failing(page, name):
        if page.site == "S02":  # the second page fails, in whichever process renders its sections
            raise RuntimeError("disk full")
        return Markup("<p></p>")

    monkeypatch.setattr(render_mod, "render_section", failing)
    for jobs in (1, 2):  # in this process, and in forked workers
        with pytest.raises(RuntimeError, match="disk full"):
            render_release(SYNTHETIC, out, sites=["S01", "S02"], overall=False, progress=False, jobs=jobs)
    assert [p.name for p in out.iterdir()] == ["index.html"]
    assert (out / "index.html").read_text(encoding="utf-8") == "previous release"
    assert [p.name for p in tmp_path.iterdir()] == ["out"], "the temporary release folder was left behind"


_RENDER = ("import sys; from dapp_eval.report import render_release; "
           "render_release(sys.argv[1], sys.argv[2], sites=['S05'], overall=False, progress=False)")


def test_release_is_byte_identical_across_thread_counts(tmp_path):
    """Two processes with 1 and 2 BLAS/OpenMP threads write the same bytes (numbers rounded at the source)."""
    digests = []
    for threads in ("1", "2"):
        env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
        out = tmp_path / f"t{threads}"
        res = subprocess.run([sys.executable, "-c", _RENDER, str(SYNTHETIC), str(out)], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr[-3000:]
        assert res.stderr == "", res.stderr[-3000:]  # and nothing on the terminal
        digests.append({p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())})
    # two renders in two processes: also the "same data, same bytes" check
    assert digests[0] == digests[1]
    assert set(digests[0]) == {"report_s05.html", "report_s05_annex.html", "tables.xlsx", "index.html"}
    page = (tmp_path / "t1" / "report_s05.html").read_text(encoding="utf-8")
    assert len(page) > 100_000 and "<h2>At a glance" in page
    # no render timestamp in the page
    today = dt.date.today()
    for stamp in (today.isoformat(), today.strftime("%d %B %Y").lstrip("0")):
        assert stamp not in page, f"the report contains today's date ({stamp})"


def test_trend_chart_with_a_withheld_denominator_is_not_drawn_from_it():
    """A quarter of 60 with 3 events withholds its 3 (<10) but publishes its 60: the p-chart cannot be
    recomputed from published counts, so the section shows the table only (at 100k referrals this crashed).
    A quarter of 7 with 0 events withholds both (the 7, and its 0 by the zero rule): it is left off the chart."""
    from types import SimpleNamespace

    from dapp_eval.disclosure import DisclosureControl
    from dapp_eval.report.sections.trends import _published_chart

    g = pd.DataFrame({"measure": "completion", "chart": "p-chart", "name": "Completion",
                      "quarter": ["2023 Q2", "2023 Q3", "2023 Q4", "2024 Q1"], "partial": False,
                      "n_numerator": [40, 3, 45, 50], "n_denominator": [60, 60, 62, 70],
                      "value": [40 / 60, 3 / 60, 45 / 62, 50 / 70], "partial_reason": "",
                      "quarter_start": pd.to_datetime(["2023-07-01", "2023-10-01", "2024-01-01", "2024-04-01"])})
    chart, shown, _ = _published_chart(SimpleNamespace(dc=DisclosureControl()), g, "quarter")
    assert chart is None  # a complete quarter is withheld: limits would describe a hidden count
    assert shown["n_denominator"].tolist()[1] == "60" and shown["n_numerator"].tolist()[1] == "<10"
    # the same quarter as a part quarter is simply left off the chart
    chart, _, _ = _published_chart(SimpleNamespace(dc=DisclosureControl()), g.assign(partial=[False, True, False, False]),
                                   "quarter")
    assert chart is not None and pd.isna(chart["value"].iloc[1]) and chart["value"].notna().sum() == 3
    # a quarter of 7 with 0 events: both withheld, the quarter is left off the chart
    z = g.assign(n_numerator=[40, 0, 45, 50], n_denominator=[60, 7, 62, 70], value=[40 / 60, 0.0, 45 / 62, 50 / 70])
    chart, shown, _ = _published_chart(SimpleNamespace(dc=DisclosureControl()), z, "quarter")
    assert shown["n_denominator"].tolist()[1] == "<10" and shown["n_numerator"].tolist()[1] == "<10"
    assert chart is not None and pd.isna(chart["value"].iloc[1]) and chart["value"].notna().sum() == 3


def test_headline_interval_is_labelled_with_the_plans_level():
    """A plan with alpha = 0.1 gives 90% intervals; the card must not call them 95%."""
    from dapp_eval.report.sections._headlines import _texts

    row = {"code": "reliable_risk_reduction", "hidden": False, "value": 0.29, "ci_lower": 0.25, "ci_upper": 0.32,
           "n_numerator": 185, "n_denominator": 645}
    assert _texts(row)["ci_text"] == "95% CI 25% to 32%"
    assert _texts(row, 0.1)["ci_text"] == "90% CI 25% to 32%"
    assert _texts(row, 0.1)["n_text"] == "185 of 645 people assessed twice"

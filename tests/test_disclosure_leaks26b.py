"""Issue 26, second attack round: numbers an outside attacker worked back from releases built with the
publication step (exclusion counts in a caption, the Mirabal and police before/after changes, Table 1
standardised differences, counts in sentences, zeros in small paired groups, periods that tile a union,
and two audit misreadings that refused valid releases). Each test does the attacker's arithmetic on a
generated folder (``dapp_eval.synthetic.generate``), not on the shipped data only."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from conftest import figures_not_drawn


@pytest.fixture(scope="module")
def folder_a(tmp_path_factory):
    """The attacker's release A: 700 referrals, 3 sites, seed 9101."""
    from dapp_eval.synthetic import generate

    folder = tmp_path_factory.mktemp("leakA") / "data"
    generate(folder, referrals=700, sites=3, seed=9101)
    return folder


@pytest.fixture(scope="module")
def release_a(folder_a):
    from dapp_eval.data.io import load_programme
    from dapp_eval.data.plan import load_plan
    from dapp_eval.report.context import Release

    return Release(load_programme(folder_a), load_plan(), synthetic=True)


def _section(release, name: str, site: str | None = None) -> str:
    """Everything a section puts on a page (its blocks and the parts it moves to the technical annex)."""
    from dapp_eval.report.context import Page
    from dapp_eval.report.sections import load

    page = Page(release, site)
    with figures_not_drawn():
        ctx = load(name).build(page)
    return str(ctx) + str(page.annex_parts)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _protected(v: str, base: int = 5) -> bool:
    """A published count: withheld (``<T``), or a multiple of the rounding base."""
    v = v.replace(",", "")
    return v.startswith("<") or v.startswith("[") or (v.isdigit() and int(v) % base == 0)


def test_cox_exclusion_counts_are_protected(release_a, folder_a):
    """Item 1: the dropout model's caption printed 'never started 386; started within lag 19; missing age 2'."""
    text = _text(_section(release_a, "attrition"))
    cap = re.search(r"episodes left out: (.*?)['\"],", text)
    assert cap, "the dropout model's caption is on the page"
    pairs = re.findall(r"([a-z][^:;]*): ([^;]+?)(?=;|$| )", cap.group(1))
    assert pairs, cap.group(1)
    r = pd.read_csv(folder_a / "referrals.csv")
    assert int(r["start_date"].isna().sum()) % 5 != 0  # the folder tests something: the true count is not a multiple of 5
    for what, v in pairs:
        assert _protected(v), f"{what}: {v} printed in clear"


def _blocks_rows(release, section: str, caption_part: str, site=None):
    from dapp_eval.report.context import Page
    from dapp_eval.report.sections import load

    page = Page(release, site)
    with figures_not_drawn():
        ctx = load(section).build(page)
    blocks = list(ctx["blocks"]) + [b for part in page.annex_parts for b in part["blocks"]]
    for bl in blocks:
        if isinstance(bl, dict) and bl.get("kind") == "table" and caption_part in str(bl.get("caption", "")):
            cols = [c["name"] for c in bl["columns"]]
            rows = [[c["text"] for c in (r["cells"] if isinstance(r, dict) else r)] for r in bl["rows"]]
            return pd.DataFrame(rows, columns=cols)
    return None


def test_mirabal_headlines_count_only_published_pairs(release_a):
    """Item 2: the Mirabal table printed exact paired n (58, 57, 56, 110) beside a change from the true 2x2."""
    t = _blocks_rows(release_a, "safety", "What this data can and cannot say")
    assert t is not None
    heads = [h for h in t.iloc[:, 4] if "paired" in h or "people" in h]
    assert heads
    for h in heads:
        for n in re.findall(r"; ([\d,]+) (?:paired|people)", h):
            assert _protected(n), h
    # a change shown for a behaviour is the one of the published paired table (derived from published cells)
    pc = _blocks_rows(release_a, "safety", "Paired change")
    shown_changes = {c for c in pc["Estimate"]} if pc is not None and "Estimate" in pc else set()
    for h in heads:
        m = re.search(r": ([+-]\d+\.\d) percentage points", h)
        if m and "children's services" not in h:
            assert any(abs(float(m.group(1)) - float(v)) < 0.051 for v in shown_changes
                       if re.fullmatch(r"-?\d+(\.\d+)?", str(v))), h


def test_before_after_change_is_derived_from_rounded_cells(release_a):
    """Item 3: change in pp x N gave started - stopped exactly (-30.0 x 110 = -33), and the interval pinned both."""
    t = _blocks_rows(release_a, "followup", "12 months before referral vs 12 months after leaving")
    ch = t[(t["Measure"] == "any incident") & (t["Period"] == "change")]
    assert len(ch)
    for _, r in ch.iterrows():
        if r["Estimate"] in ("[c]", "") or r["Estimate"].startswith("<"):
            continue
        diff = float(r["Estimate"]) * float(r["Number of people"].replace(",", "")) / 100
        assert abs(diff - 5 * round(diff / 5)) < 0.2, (r["Label"], r["Estimate"])  # rounded started - stopped


def test_paired_change_from_published_cells_withholds_small_discordant_pairs():
    from dapp_eval.disclosure import DisclosureControl
    from dapp_eval.report.sections._publish import published_paired_change

    dc = DisclosureControl()
    assert published_paired_change(dc, 110, 58, 39, 6, 0.05) is None  # 6 newly involved: a small cell
    pub = published_paired_change(dc, 110, 58, 39, 16, 0.05)
    assert pub["n"] == 110 and pub["estimate"] == pytest.approx(100 * (15 - 40) / 110)
    assert published_paired_change(dc, 15, 15, 0, 0, 0.05) is None  # all of a group below the zero minimum


def test_counts_in_sentences_are_the_published_counts(tmp_path):
    """Item 5: a one-site, one-year release printed '82 people referred; never started 53; ...' in the Mirabal
    note and '26 survey(s) answered at T1' beside wave tables showing 25."""
    from dapp_eval.data.io import load_programme
    from dapp_eval.data.plan import load_plan
    from dapp_eval.report.context import Release
    from dapp_eval.synthetic import generate

    folder = tmp_path / "data"
    generate(folder, referrals=90, sites=1, seed=9102, years=1)
    release = Release(load_programme(folder), load_plan(), synthetic=True)
    text = _section(release, "safety")
    printed = re.findall(r"(\d[\d,]*) (?:people referred|survey\(s\))", text)
    printed += re.findall(r"(?:never started the programme|extract date|no after-exit window): (\d+)", text)
    assert printed, "the release prints the reasons this test reads"
    for v in printed:
        assert _protected(v), f"{v} printed in a sentence"


def test_natural_frequency_and_names_are_not_counts():
    """Item 8: 'roughly 7 in 10 people' is a share in words (its 10 is not a count shown at threshold 12), and
    '1-2-1' in a programme's name is not an unrounded count."""
    from dapp_eval.disclosure.audit import _text_counts

    assert _text_counts("Completion: roughly 7 in 10 people who started") == []
    assert _text_counts("about 1 in 4 partners felt safer") == []
    assert _text_counts("Healthy Relationships 1-2-1 partners feeling safer") == []
    assert [c for c, *_ in _text_counts("Completion: 33 people who started; n = 12")] == [12, 33]


@pytest.mark.parametrize("pairs,started,yes_base,yes_fol", [(15, 0, 12, 12), (15, 0, 0, 0), (18, 0, 18, 10),
                                                             (12, 3, 12, 15)])
def test_zero_rule_in_the_paired_table(pairs, started, yes_base, yes_fol):
    """Item 6: a site of 15 pairs published 'started 0' and 'at the later survey 0': none or all of a group
    below twice the threshold is withheld like a small count, and every statistic built on it."""
    from dapp_eval.analyses.safety import PAIRED_ZERO_RULE, paired_roles
    from dapp_eval.disclosure import DisclosureControl
    from dapp_eval.disclosure.roles import publish

    yes_fol = min(yes_fol, pairs)
    stopped = yes_base - (yes_fol - started)
    t = pd.DataFrame({"behaviour": ["b"], "label": ["B"], "role": ["primary"], "n_pairs": [pairs],
                      "n_yes_baseline": [yes_base], "n_yes_followup": [yes_fol], "n_stopped": [stopped],
                      "n_started": [started], "estimate": [1.0], "ci_lower": [0.0], "ci_upper": [2.0],
                      "p_value": [0.5]})
    dc = DisclosureControl()
    shown = publish(t, paired_roles(list(t.columns), 0.05), dc, name="paired", pairs=PAIRED_ZERO_RULE).iloc[0]
    for c in PAIRED_ZERO_RULE:
        v = t[c].iloc[0]
        if v < dc.threshold:  # a 0 of the zero rule is shown like any small count
            assert str(shown[c]) == dc.marker, (c, shown[c])
        elif v == pairs:  # all of them: rounded like any count; what it would give is withheld below
            assert str(shown[c]) == f"{dc.published_count(v):,}", (c, shown[c])
    assert all(str(shown[c]) in (dc.marker, "[c]") for c in ("estimate", "ci_lower", "ci_upper", "p_value"))


@pytest.mark.parametrize("site", [None, "S01"])
def test_table1_smd_from_published_counts(release_a, site):
    """Item 4: Table 1's SMDs came from the true shares; with the levels summing to the group they gave hidden
    counts back. Shown SMDs are those of the published counts, and none for a variable with a hidden count."""
    from dapp_eval.estimators.effect_sizes import smd_binary

    t = _blocks_rows(release_a, "engagement", "Table 1", site)
    smd_col, n_col, g_col = "Largest standardised difference", "Number of people", "Number in the group"
    checked = 0
    for var, block in t.groupby("Characteristic", sort=False):
        shares = block[block["Level"] != "Average"]
        hidden = shares[n_col].str.startswith("<").any() or shares[n_col].isin(["[c]"]).any()
        for _lev, rows in shares.groupby("Level", sort=False):
            shown = [v for v in rows[smd_col] if re.fullmatch(r"-?\d+(\.\d+)?", v)]
            if not shown:
                continue
            assert not hidden, f"{var}: an SMD is shown beside a hidden count"
            p = (rows[n_col].str.replace(",", "").astype(float) / rows[g_col].str.replace(",", "").astype(float)).to_numpy()
            want = max(abs(smd_binary(a, b)) for i, a in enumerate(p) for b in p[i + 1:])
            # the table prints the SMD to 2 decimals: half a unit of the last digit, and a hair for float error
            assert float(shown[0]) == pytest.approx(want, abs=0.0051), (var, _lev)
            checked += 1
    assert checked


def test_case_mix_sentence_from_published_counts(release_a):
    """Item 4: the site comparison's referral-mix sentence printed shares and the largest standardised
    difference of the true counts. Each printed share is a published count over a published site size."""
    from dapp_eval.analyses import funnel
    from dapp_eval.disclosure import DisclosureControl
    from dapp_eval.estimators.effect_sizes import smd_binary

    text = _section(release_a, "sites")
    m = re.search(r"the share referred by (.+?) ranges from (\d+)% \((.+?)\) to (\d+)% \((.+?)\) \(standardised "
                  r"difference (\d\.\d\d)", text)
    assert m, "the case-mix sentence is on the page"
    bt = funnel.baseline_table(release_a.data, by="site_id", variables=["referral_source"]).summary
    bt = bt[bt["level"] != "missing"]
    dc = DisclosureControl()
    names = release_a.data.sites.set_index("site_name")["site_id"]
    shares = {}
    for lo_hi, name in ((m.group(2), m.group(3)), (m.group(4), m.group(5))):
        rows = bt[bt["group"] == names[name]]
        pub = [dc.rounded(k) / dc.rounded(n) for k, n in zip(rows["n"], rows["n_group"])
               if dc.rounded(k) is not None and dc.rounded(n)]
        assert any(round(100 * p) == int(lo_hi) for p in pub), (name, lo_hi)
        shares[name] = [p for p in pub if round(100 * p) == int(lo_hi)]
    d = [abs(smd_binary(a, b)) for a in shares[m.group(3)] for b in shares[m.group(5)]]
    assert any(abs(x - float(m.group(6))) < 0.006 for x in d) or float(m.group(6)) >= min(d) - 0.006


def test_periods_that_tile_another_are_refused(folder_a, tmp_path, capsys):
    """Item 7: two halves of a year and the year in one release: the three rounding bands of each count
    (H1 + H2 = year, for every site and all sites) left one integer solution (277 referrals published as
    275; a site's 23 + 28 = 51). The release is refused at the command line with a plain message naming the
    rule; overlapping periods that do not tile one another still render."""
    from dapp_eval.cli import main
    from dapp_eval.disclosure.release import check_periods

    rc = main(["report", str(folder_a), "--out", str(tmp_path / "out"), "--quiet",
               "--period", "2023-01-01", "2023-06-30", "--period", "2023-07-01", "2023-12-31",
               "--period", "2023-01-01", "2023-12-31"])
    err = capsys.readouterr().err
    assert rc == 2 and "made up of the other periods" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
    check_periods([("2023-01-01", "2023-06-30"), ("2023-01-01", "2023-12-31")])
    check_periods([("2023-01-01", "2023-06-30"), ("2023-07-02", "2023-12-31"), ("2023-01-01", "2023-12-31")])
    with pytest.raises(ValueError, match="made up of"):
        check_periods([("2023-01-01", "2023-03-31"), ("2023-04-01", "2023-06-30"), ("2023-07-01", "2023-12-31"),
                       ("2023-01-01", "2023-12-31")])


@pytest.mark.slow
@pytest.mark.parametrize("threshold", [12, 7])
def test_six_site_release_renders_at_thresholds_12_and_7(tmp_path_factory, threshold):
    """Item 8, end to end: the 2,200-referral, 6-site folder (seed 9103) was refused at --threshold 12 ('7 in
    10 people' read as a count of 10) and at --threshold 7 (the '1' of 'Healthy Relationships 1-2-1')."""
    from dapp_eval.report.render import render_release
    from dapp_eval.synthetic import generate

    folder = tmp_path_factory.mktemp(f"c{threshold}") / "data"
    generate(folder, referrals=2200, sites=6, seed=9103)
    with figures_not_drawn():
        paths = render_release(folder, tmp_path_factory.mktemp(f"c{threshold}_out") / "out", progress=False,
                               threshold=threshold)
    assert any(str(p).endswith("report_all_sites.html") for p in paths)


# -- third attack round (final code of this session): person-years, rate ratios, the complete-case share ----------

YEAR = 365 / 365.25  # person-years of one person followed for a whole 365-day window


def _num(v) -> float:
    v = str(v).replace(",", "").replace("%", "")
    return float(v) if re.fullmatch(r"-?\d+(\.\d+)?", v) else float("nan")


def _half_unit(v) -> float:
    """Half a unit of the last digit shown ('1.1' -> 0.05, '0.334' -> 0.0005)."""
    v = str(v).replace(",", "").replace("%", "")
    return 0.5 * 10 ** -(len(v.split(".")[1]) if "." in v else 0)


def test_person_years_and_rate_ratios_are_those_of_published_counts(release_a):
    """Person-years 140.9 gave 141 people (140.9 / (365 / 365.25)) beside a published 140, and the rate ratio
    0.244 gave the numbers of incidents (47 after / 193 before) beside a published 45 and 195."""
    t = _blocks_rows(release_a, "followup", "12 months before referral vs 12 months after leaving")
    rates = t[t["Measure"] == "incidents per person-year"]
    assert len(rates)
    for _, r in rates.iterrows():
        py, n = _num(r["Person-years followed"]), _num(r["Number of people"])
        if py == py and n == n:
            assert round(py / YEAR) == n, (r["Label"], py, n)  # the person-years of the published people
            ev, est = _num(r["Number of incidents"]), _num(r["Estimate"])
            if ev == ev and est == est and ev > 0:  # the rate of the published incidents, to its digits
                assert abs(est - ev / py) <= _half_unit(r["Estimate"]) + 1e-9, (r["Label"], est, ev, py)
    for label, g in t.groupby("Label", sort=False):
        ratio = g[g["Measure"].str.startswith("rate ratio")]
        ev = {p: _num(v) for p, v in zip(g.loc[g["Measure"] == "incidents per person-year", "Period"],
                                         g.loc[g["Measure"] == "incidents per person-year", "Number of incidents"])}
        for est in ratio["Estimate"]:
            if _num(est) == _num(est) and ev.get("before", 0) > 0 and ev.get("after") == ev.get("after"):
                assert abs(_num(est) - ev["after"] / ev["before"]) <= _half_unit(est) + 1e-9, (label, est, ev)


def test_completers_rates_give_back_only_the_published_people(release_a):
    """The completers' after-exit rate 0.556 from 20 published incidents gave 35.97 person-years: 36 people."""
    t = _blocks_rows(release_a, "followup", "Completers vs non-completers")
    assert t is not None
    rates = t[t["Measure"] == "incidents per person-year"]
    checked = 0
    # each count is shown once (issue 26, withheld share): the people are on the group's 'any incident' row
    group = t.iloc[:, 0]
    people = {(g, p): _num(n) for g, p, n, m in zip(group, t["Period"], t["Number of people"], t["Measure"])
              if m == "any incident"}
    for i, r in rates.iterrows():
        est, ev = _num(r["Estimate"]), _num(r["Number of incidents"])
        n = people.get((group[i], r["Period"]), float("nan"))
        if est == est and ev == ev and n == n and est > 0:
            # the people implied by the rate, to its shown digits, include the published number
            h = _half_unit(r["Estimate"])
            assert ev / (est + h) / YEAR - 0.5 <= n <= ev / max(est - h, 1e-9) / YEAR + 0.5, (r["Period"], est, ev, n)
            checked += 1
    assert checked


def _block_csv(release, section: str, caption_part: str) -> pd.DataFrame:
    """The CSV a page table carries (every digit the workbook has)."""
    import base64
    import io

    from dapp_eval.report.context import Page
    from dapp_eval.report.sections import load

    page = Page(release, None)
    with figures_not_drawn():
        ctx = load(section).build(page)
    blocks = list(ctx["blocks"]) + [b for part in page.annex_parts for b in part["blocks"]]
    for bl in blocks:
        if isinstance(bl, dict) and bl.get("kind") == "table" and caption_part in str(bl.get("caption", "")):
            raw = base64.b64decode(bl["csv_uri"].split(",", 1)[1])
            return pd.read_csv(io.BytesIO(raw), dtype=str, skiprows=[0])  # row 1: plain names; row 2: codes
    raise AssertionError(f"no table {caption_part!r}")


def test_complete_case_share_is_a_proportion_of_published_counts(release_a):
    """The missing-data table's complete-case 'reliably improved' share and Wilson interval came from the true
    counts: 0.292 (0.149 to 0.492) could only be 7 of 24, beside a published 25 and '<10'."""
    from dapp_eval.estimators.proportions import wilson_ci

    t = _block_csv(release_a, "risk", "Complete-case, weighted and imputed")
    row = t[(t["method"] == "complete case") & (t["statistic"] == "reliably_improved")]
    assert len(row) == 1
    r = row.iloc[0]
    n, est = _num(r["n_observed"]), _num(r["estimate"])
    assert n == n and int(n) % 5 == 0
    if est == est:  # shown: k / n with k and n published (multiples of 5), its Wilson interval from them
        k = round(est * n / 5) * 5
        lo, hi = wilson_ci(k, int(n), alpha=0.05)
        for shown, want in ((est, k / n), (_num(r["ci_lower"]), lo), (_num(r["ci_upper"]), hi)):
            assert abs(shown - want) <= _half_unit(shown) * 2 + 1e-9, (shown, want)

"""Issue 26, shape of a release: a site with nobody who has X reads like a site with one who has X.

Outside attacks (a13, a15) read "none" facts about a site's few people from what a page left out: a survey wave
missing from a table, a reason listed only where someone had it, "children.csv holds no rows" where another site's
page showed a table of '<10', a risk timepoint without rows, a characteristic without its row. In a release of
several sites every 0 of people is published like a small count; the page must not say it another way.

Each case takes one site of a multi-site release and makes two versions of its data that differ only in one fact:
nobody at the site has X, or exactly one person has. The site's page (body and annex) is rendered in both, every
number is blanked, and the two texts must be the same: nothing on the page, its shape included, tells 0 from 1.
"""

from __future__ import annotations

import dataclasses
import re
from functools import lru_cache

import pandas as pd
import pytest

from dapp_eval.data.io import load_programme
from dapp_eval.data.plan import load_plan
from dapp_eval.report.context import Page, Release
from dapp_eval.report.render import render_pages

SITE = "S02"
PERIOD = ("2023-07-01", "2023-12-31")


@lru_cache(maxsize=1)
def _base():
    return load_programme("data_synthetic").subset(period=PERIOD)


def _page_text(data) -> str:
    rel = Release(data, load_plan(None, period=list(PERIOD)))
    html = "".join(render_pages(Page(rel, SITE), name="report_s02.html"))
    html = re.sub(r"<svg.*?</svg>", "<svg/>", html, flags=re.S)  # chart geometry follows the rounded counts
    html = re.sub(r"data:[^\"']+", "data:", html)
    text = re.sub(r"<[^>]+>", " ", html)
    text = re.sub(r"&lt;\d+|<\d+|\[c\]", "#", text)
    text = re.sub(r"[-+−]?\d[\d,]*(\.\d+)?%?", "#", text)
    return re.sub(r"\s+", " ", text)


def _site_rows(df: pd.DataFrame, data, key: str = "referral_id") -> pd.Series:
    ids = set(data.referrals.loc[data.referrals["site_id"] == SITE, "referral_id"])
    return df[key].isin(ids)


def _keep_one(data, table: str, rows: pd.Series):
    """(nobody, one): ``data`` with the site's rows of ``table`` that ``rows`` marks removed, or all but one."""
    df = getattr(data, table)
    idx = df.index[rows.to_numpy()]
    assert len(idx) >= 2, f"the base data need at least two such rows of {table} at {SITE}"
    none_ = dataclasses.replace(data, **{table: df.drop(index=idx).reset_index(drop=True)})
    one = dataclasses.replace(data, **{table: df.drop(index=idx[1:]).reset_index(drop=True)})
    return none_, one


def _children(data):
    return _keep_one(data, "children", _site_rows(data.children, data))


def _partner_support(data):
    return _keep_one(data, "partner_support", _site_rows(data.partner_support, data))


def _feedback(data):
    return _keep_one(data, "feedback", _site_rows(data.feedback, data))


def _surveys_t4(data):
    sv = data.partner_surveys
    return _keep_one(data, "partner_surveys", _site_rows(sv, data) & (sv["wave"] == "T4"))


def _all_surveys(data):
    return _keep_one(data, "partner_surveys", _site_rows(data.partner_surveys, data))


def _exit_scores(data):
    ra = data.risk_assessments
    return _keep_one(data, "risk_assessments", _site_rows(ra, data) & (ra["timepoint"] == "exit"))


def _follow_up_scores(data):
    ra = data.risk_assessments
    return _keep_one(data, "risk_assessments", _site_rows(ra, data) & (ra["timepoint"] == "follow_up"))


def _drop_referrals(data, ids: set):
    """``data`` without the referrals ``ids`` and every row of theirs (a participant's incidents go with the last
    referral of theirs left)."""
    ref = data.referrals[~data.referrals["referral_id"].isin(ids)].reset_index(drop=True)
    keep_r, keep_p = set(ref["referral_id"]), set(ref["participant_id"])
    out = {"referrals": ref}
    for name in ("sessions", "risk_assessments", "partners", "partner_surveys", "children", "partner_support",
                 "feedback"):
        df = getattr(data, name)
        if df is not None:
            out[name] = df[df["referral_id"].isin(keep_r)].reset_index(drop=True)
    if data.incidents is not None:
        out["incidents"] = data.incidents[data.incidents["participant_id"].isin(keep_p)].reset_index(drop=True)
    return dataclasses.replace(data, **out)


def _starters(data):
    """Nobody at the site started the programme, or one did (the others who started are left out)."""
    ref = data.referrals
    started = ref.loc[(ref["site_id"] == SITE) & ref["start_date"].notna(), "referral_id"].tolist()
    assert len(started) >= 2
    return _drop_referrals(data, set(started)), _drop_referrals(data, set(started[1:]))


def _later_scores(data):
    """Nobody at the site has a risk score after intake (so nobody has two), or one person has."""
    ra = data.risk_assessments
    return _keep_one(data, "risk_assessments", _site_rows(ra, data) & (ra["timepoint"] != "intake"))


CASES = {"children": _children, "partner support": _partner_support, "feedback": _feedback,
         "T4 surveys": _surveys_t4, "every survey": _all_surveys, "exit risk scores": _exit_scores,
         "follow-up risk scores": _follow_up_scores, "starters": _starters,
         "risk scores after intake": _later_scores}


@pytest.mark.parametrize("case", list(CASES))
def test_a_site_with_nobody_reads_like_a_site_with_one(case):
    none_, one = CASES[case](_base())
    a, b = _page_text(none_), _page_text(one)
    if a != b:
        wa, wb = a.split(" "), b.split(" ")
        i = next(i for i, (x, y) in enumerate(zip(wa, wb)) if x != y)
        pytest.fail(f"{case}: the page of nobody differs from the page of one at word {i}:\n"
                    f"  nobody: ...{' '.join(wa[max(0, i - 25):i + 25])}...\n"
                    f"  one:    ...{' '.join(wb[max(0, i - 25):i + 25])}...")


def _keep_people(data, table: str, rows: pd.Series, k: int):
    """``data`` with the site's rows of ``table`` that ``rows`` marks kept for ``k`` referrals only."""
    df = getattr(data, table)
    ids = list(dict.fromkeys(df.loc[rows.to_numpy(), "referral_id"]))
    assert len(ids) > k, f"the base data need more than {k} such referrals at {SITE}"
    drop = rows.to_numpy() & df["referral_id"].isin(ids[k:]).to_numpy()
    return dataclasses.replace(data, **{table: df[~drop].reset_index(drop=True)})


FEW = {"exit risk scores": lambda ra: ra["timepoint"] == "exit",
       "risk scores after intake": lambda ra: ra["timepoint"] != "intake"}


def _risk_models(text: str) -> tuple:
    """The page's part on the mixed model and the models of missing exit scores, and how often the data-quality
    appendix names them (the rest of the page moves with the counts of other people: reasons merged or not)."""
    i = text.rfind("Risk: mixed model and missing exit scores")
    part = text[i:text.index("Change in DASH score", i)]
    return part, text.count("linear mixed model"), text.count("without an exit score")


@pytest.mark.parametrize("case", list(FEW))
def test_a_site_with_one_reads_like_a_site_with_threshold_less_one(case):
    """a21 F1/F3: tables of missing exit scores shown from 3 exit scores up, and a mixed model from 1 person with
    two scores, inside the band '<T': within the band, only the threshold decides what a page shows."""
    base = _base()
    ra = base.risk_assessments
    rows = _site_rows(ra, base) & FEW[case](ra)
    threshold = int(load_plan(None, period=list(PERIOD))["threshold"])
    for k in (0, 1, 2, 3):
        assert _risk_models(_page_text(_keep_people(base, "risk_assessments", rows, k))) == \
            _risk_models(_page_text(_keep_people(base, "risk_assessments", rows, threshold - 1))), k


# ---------------------------------------------------------------------------
# the routes of the last outside attacks (a17-a19), each a unit that must not tell 0 from a few
# ---------------------------------------------------------------------------


def test_rate_ratio_rows_are_the_same_whether_or_not_a_window_has_an_incident():
    """a19 F2: one blank row without a model where a window had no incident, two fitted rows where it had a few."""
    import numpy as np

    from dapp_eval.analyses.followup import _rate_rows

    ones = np.ones(12)
    pid = np.arange(12)
    for ya in (np.zeros(12), np.r_[1, np.zeros(11)], np.r_[1, 1, 2, np.zeros(9)]):
        rows, _ = _rate_rows(np.r_[1, 2, np.zeros(10)], ya, ones, ones, pid, 0.05)
        ratio = [(r["model"], r["measure"]) for r in rows if r["measure"].startswith("rate ratio")]
        assert ratio == [("poisson (SE clustered by person)", "rate ratio (after / before)"),
                         ("negative binomial (SE clustered by person)", "rate ratio (after / before)")], ya


def test_a_weighted_share_is_not_shown_where_it_is_the_complete_case_share():
    """a19 F1: with nobody's exit score missing, the weighted and imputed shares are k/n exactly."""
    from dapp_eval.report.sections.risk import _sensitivity_events

    t = pd.DataFrame({"method": ["complete case", "inverse probability of attrition weighting", "multiple imputation",
                                 "inverse probability of attrition weighting"],
                      "statistic": ["reliably_improved", "reliably_improved", "reliably_improved", "mean_change"],
                      "n": [19, 19, 19, 19], "n_observed": [19, 19, 19, 19], "n_improved": [7, None, None, None]})
    assert (_sensitivity_events(t) == 0).all()  # nobody missing: no events to show them with
    t["n"] = 30  # 11 missing: the share with the fewer of improved (7) and not (12), the mean with the observed
    assert _sensitivity_events(t).tolist() == [7, 7, 7, 19]


def test_every_exit_is_compared_and_a_test_of_few_exits_is_withheld():
    """a18 H4: the comparison listed only the exits that occurred, and tested 1 or 2 of them."""
    from dapp_eval.analyses import attrition
    from dapp_eval.disclosure.control import DisclosureControl
    from dapp_eval.disclosure.roles import publish

    res = attrition.compare_groups(_base(), by="site_id")
    for test in ("log-rank", "Gray"):
        assert res.summary.loc[res.summary["test"] == test, "outcome"].tolist() == list(attrition.OUTCOMES)
    shown = publish(res.summary, res.roles["summary"], DisclosureControl(carries_down=True), name="t")
    few = pd.to_numeric(res.summary["n_events"]) < 10
    assert few.any() and not few.all()  # the half-year has exits of a few and of many: both sides are tested
    assert (shown.loc[few, "statistic"] == "[c]").all() and (shown.loc[few, "p_value"] == "[c]").all()


# ---------------------------------------------------------------------------
# outside attack a22
# ---------------------------------------------------------------------------


def test_no_curve_of_contacts_is_drawn_from_fewer_than_the_threshold():
    """a22 F1: a flat mean cumulative function said 0 contacts where the table said '<10'. For 0, 1 and 9
    contacts in a group of 40 followed the group has no curve, and the table rows are kept; for 10 it has one."""
    import copy

    import numpy as np

    from dapp_eval.analyses import followup
    from dapp_eval.disclosure.control import DisclosureControl
    from dapp_eval.disclosure.curves import protect_mcf_result

    res = followup.recurrent_contacts(load_programme("data_synthetic"), alpha=0.05)
    persons = res.tables["persons"]
    for k, drawn in ((0, False), (1, False), (9, False), (10, True)):
        r = copy.copy(res)
        rows = res.tables["rows"]
        done = rows["group"] == "completed"
        ev = np.flatnonzero(done.to_numpy() & (rows["event"] > 0).to_numpy())
        keep = rows["event"].copy()
        keep.iloc[ev[k:]] = 0  # k contacts left among the completers
        r.tables = {**res.tables, "rows": rows.assign(event=keep), "persons": persons}
        safe = protect_mcf_result(r, DisclosureControl(), name="t")
        assert ("completed" in set(safe.tables["curves"]["group"])) is drawn, k
        assert "completed" in set(safe.summary["group"]), k


def test_a_merged_waiting_list_adds_up_its_long_waits():
    """a22 F3: the merged row kept the long-wait count only where both lists agreed: blank for 0 + 1, '<10' for 0 + 0."""
    from dapp_eval.analyses.funnel import _WAITING_LIST_ROLES
    from dapp_eval.disclosure.control import DisclosureControl
    from dapp_eval.disclosure.roles import publish

    for over in ((0, 0), (0, 1), (1, 1)):
        t = pd.DataFrame({"group": "all", "list": ["awaiting_assessment", "awaiting_start", "any"], "since": "referral",
                          "n_waiting": [2, 1, 3], "n_referred": 400, "median_weeks": [5.0, 6.0, 5.5],
                          "q1_weeks": 4.0, "q3_weeks": 7.0, "max_weeks": 9.0,
                          "n_over_threshold": [over[0], over[1], sum(over)], "threshold_weeks": 12,
                          "as_at": pd.Timestamp("2026-04-30"), "as_at_varies": False})
        shown = publish(t, _WAITING_LIST_ROLES, DisclosureControl(carries_down=True), name="t")
        assert len(shown) == 2 and shown["n_over_threshold"].astype(str).tolist() == ["<10", "<10"], (over, shown)


def test_a_period_share_of_nobody_reads_like_one_of_a_few():
    """a24 H1: a year's share with a denominator of 0 was blank, with 1 to 9 '[c]'; both are '[c]' where the
    denominator is withheld, and a published 0 (a one-site release's group of twice the threshold) stays blank."""
    import numpy as np

    from dapp_eval.report.sections.trends import _share_cell

    assert _share_cell(np.nan, "<10") == _share_cell("[c]", "<10") == "[c]"
    assert _share_cell(np.nan, 0) == ""
    assert _share_cell(0.75, "20") == "75%"


def test_incidents_beside_a_hidden_number_of_people_read_alike_whatever_their_number():
    """a25 J2: incidents beside a hidden number of people with one were '<5' when few and '[c]' when more, so
    '[c]' said at least 5 incidents among fewer than 5 people. They are '[c]', and logged alike, for 0, 2 and 12."""
    from dapp_eval.analyses.followup import events_role
    from dapp_eval.columns import Count, Label
    from dapp_eval.disclosure.control import DisclosureControl
    from dapp_eval.disclosure.roles import publish

    shown, why = [], []
    for events in (0, 2, 12):
        t = pd.DataFrame({"label": "x", "period": "after", "measure": ["any incident", "incidents per person-year"],
                          "n": [40, 40], "n_with_incident": [3 if events else 0, None],
                          "n_events": [None, events]})
        dc = DisclosureControl(threshold=5, carries_down=True)
        p = publish(t, [Label("label", "period", "measure"), Count("n", "n_with_incident", "n_events"),
                        events_role(("label",))], dc, name="t")
        shown.append(str(p["n_events"].iloc[1]))
        why.append(dc.summary["why"].iloc[0])
    assert shown == ["[c]", "[c]", "[c]"], shown
    assert len(set(why)) == 1, why


def test_a_completers_model_ratio_needs_both_rates_published():
    """a23 G3: the adjusted rate ratio was shown beside a withheld non-completers' rate, which said that group had
    incidents and roughly how many. A model ratio is withheld unless both rates after leaving are published."""
    import numpy as np

    from dapp_eval.analyses.followup import _groups_published

    def table(rate_dnc):
        return pd.DataFrame({
            "group": ["completed", "completed", "did_not_complete", "did_not_complete", "completed / did_not_complete"],
            "period": ["after"] * 5,
            "measure": ["any incident", "incidents per person-year", "any incident", "incidents per person-year",
                        "rate ratio, Poisson robust SE, adjusted for before-window count"],
            "n": [40, np.nan, 30, np.nan, np.nan], "estimate": [0.3, 0.5, 0.2, rate_dnc, 1.9],
            "ci_lower": [np.nan, np.nan, np.nan, np.nan, 0.4], "ci_upper": [np.nan, np.nan, np.nan, np.nan, 8.0],
            "p_value": [np.nan] * 4 + [0.4]})

    assert _groups_published(table("[c]")).iloc[4].isna().all()
    assert _groups_published(table(0.25)).iloc[4]["estimate"] == 1.9

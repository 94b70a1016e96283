"""Delivery: capacity and utilisation, structured feedback, and the waiting list by risk.

- :func:`capacity` reads ``capacity.csv`` (contract version 2): groups run,
  places offered and filled, utilisation (filled / offered), staff FTE and
  funding by funder, per quarter for all sites and per site.
- :func:`feedback` reads ``feedback.csv``: Likert ratings of change (1 much
  worse .. 5 much better) by informant (perpetrator, partner, referring
  agency), wave (exit, follow-up) and item; the share rating 4 or 5
  ("better") with a Wilson interval, as the seeds quote "Agencies reported
  positive change".  No free text is held.
- :func:`waiting_list` lists the referrals waiting at the data extract date
  (for an assessment or for a place), by risk band, highest risk first: the
  referrer's risk level (``referral_risk_level``) where recorded, else the
  band of the intake risk score.

Examples
--------
>>> from dapp_eval import load_programme
>>> data = load_programme("data_synthetic")
>>> capacity(data).summary["quarter"].iloc[0]
'2023-24 Q1'
>>> waiting_list(data).summary["risk_band"].tolist()[:3]
['High', 'Medium', 'Standard']
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dapp_eval.analyses.episodes import require_table as _require
from dapp_eval.columns import Count, Derived, Label, Merge, Summary, Value
from dapp_eval.data.schema import FEEDBACK_INFORMANTS, FEEDBACK_ITEMS, FEEDBACK_WAVES
from dapp_eval.errors import AnalysisError
from dapp_eval.estimators.proportions import wilson_ci
from dapp_eval.results import AnalysisResult, check_alpha, make_meta

__all__ = ["capacity", "feedback", "waiting_list", "fy_quarter"]

_CAP = ["groups_run", "places_offered", "places_filled", "staff_fte"]


def fy_quarter(d: pd.Series) -> pd.Series:
    """UK financial-year quarter of each date ('2023-24 Q1' = April to June 2023).

    Examples
    --------
    >>> fy_quarter(pd.Series(pd.to_datetime(["2023-04-01", "2024-03-31"]))).tolist()
    ['2023-24 Q1', '2023-24 Q4']
    """
    d = pd.to_datetime(d)
    fy = d.dt.year - (d.dt.month < 4)
    q = ((d.dt.month - 4) % 12) // 3 + 1
    return fy.astype(str) + "-" + ((fy + 1) % 100).astype(str).str.zfill(2) + " Q" + q.astype(str)


def capacity(data) -> AnalysisResult:
    """Places, utilisation, groups, staff and funding by quarter (all sites; per site in ``tables``).

    Returns
    -------
    AnalysisResult
        ``summary``: per quarter for all sites: ``quarter``, ``groups_run`` (not a count of people),
        ``n_places_offered``,
        ``n_places_filled``, ``prop_filled`` (utilisation: filled / offered), ``staff_fte``, ``funding_gbp``.
        ``tables["by_site"]``: the same per site and quarter. ``tables["funding"]``: funding by funder
        over the whole period (``funding_gbp``, ``share``).
    """
    cap = _require(data, "capacity", " (contract version 2: capacity.csv, places and funding per site and quarter)")
    if not len(cap):
        raise AnalysisError("capacity.csv holds no rows: the data record no places or funding")
    c = cap.copy()
    c["quarter"] = fy_quarter(c["quarter_start"])
    for col in _CAP + ["funding_gbp"]:
        c[col] = pd.to_numeric(c[col], errors="coerce").astype(float)

    def agg(df, keys):
        g = df.groupby(keys, sort=True)
        out = g[_CAP + ["funding_gbp"]].sum(min_count=1).reset_index()
        out["prop_filled"] = out["places_filled"] / out["places_offered"].where(out["places_offered"] > 0)
        return out.rename(columns={"places_offered": "n_places_offered",
                                   "places_filled": "n_places_filled"})[
            [*keys, "groups_run", "n_places_offered", "n_places_filled", "prop_filled", "staff_fte", "funding_gbp"]]

    summary = agg(c, ["quarter"])
    by_site = agg(c, ["site_id", "quarter"])
    fund = c.groupby("funder", sort=False)["funding_gbp"].sum(min_count=1).reset_index()
    fund["share"] = fund["funding_gbp"] / fund["funding_gbp"].sum()
    fund = fund.sort_values("funding_gbp", ascending=False, kind="stable").reset_index(drop=True)
    meta = make_meta(n_in=len(cap), excluded={}, unit="site-quarter-funder rows",
                     method="sums per quarter; utilisation = places filled / places offered",
                     n_sites=int(cap["site_id"].nunique()), n_quarters=int(c["quarter"].nunique()))
    return AnalysisResult(summary=summary, meta=meta, tables={"by_site": by_site, "funding": fund},
                          title="Capacity, utilisation and funding by quarter", roles=_CAPACITY_ROLES)


def _utilisation(pub: pd.DataFrame) -> pd.DataFrame:
    """Places filled over places offered, of the published counts."""
    off = pub["n_places_offered"]
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame({"prop_filled": pub["n_places_filled"] / off.where(off > 0)})


#: places offered and filled are counts (filled places are people attending); utilisation is their ratio as
#: published; groups run, staff and money are not people; funding by funder is money only. A quarter of a
#: handful of places is merged with its smaller neighbour (groups run and funding summed over the two)
_CAPACITY_ROLES = {
    "summary": [Merge(by=(), level="quarter", add=("n_places_offered", "n_places_filled"), adjacent=True,
                      sums=("groups_run", "funding_gbp")),
                Label("quarter"), Count("n_places_offered", "n_places_filled"),
                Derived(("prop_filled",), _utilisation, inputs=("n_places_offered", "n_places_filled")),
                Value("groups_run", "staff_fte", "funding_gbp")],
    "by_site": [Label("site_id", "quarter"), Count("n_places_offered", "n_places_filled"),
                Derived(("prop_filled",), _utilisation, inputs=("n_places_offered", "n_places_filled")),
                Value("groups_run", "staff_fte", "funding_gbp")],
    "funding": [Label("funder"), Value("funding_gbp", "share")],
}


def feedback(data, *, alpha: float = 0.05, rows=None) -> AnalysisResult:
    """Share rating change as better (4 or 5) by informant, wave and item, with Wilson intervals.

    ``rows``: the (informant, wave, item) rows to give whether or not anyone here gave that rating (a release
    gives every report the rows of its whole data: a row left out where nobody rated said "none of them",
    attack a13 D3); by default those rated here.

    Returns
    -------
    AnalysisResult
        ``summary``: ``informant``, ``wave``, ``item``, ``n`` (ratings), ``n_better`` (4-5),
        ``n_no_change`` (3), ``n_worse`` (1-2), ``estimate`` (share better), ``ci_lower``, ``ci_upper``,
        ``mean_rating``.
    """
    alpha = check_alpha(alpha)
    fb = _require(data, "feedback", " (contract version 2: feedback.csv, structured ratings of change)")
    if not data.folder_rows("feedback"):  # a site's part may be empty: the analysis of nobody (issue 26)
        raise AnalysisError("feedback.csv holds no rows: the data record no ratings")
    r = pd.to_numeric(fb["rating"], errors="coerce")
    ok = r.notna().to_numpy()
    g = pd.DataFrame({"informant": fb["informant"].to_numpy()[ok], "wave": fb["wave"].to_numpy()[ok],
                      "item": fb["item"].to_numpy()[ok], "r": r.to_numpy()[ok]})
    g = g.assign(better=g["r"] >= 4, same=g["r"] == 3, worse=g["r"] <= 2)
    agg = g.groupby(["informant", "wave", "item"], sort=False).agg(
        n=("r", "size"), n_better=("better", "sum"), n_no_change=("same", "sum"), n_worse=("worse", "sum"),
        mean_rating=("r", "mean"))
    wanted = set(agg.index) if rows is None else set(map(tuple, rows))
    rows = []
    for key in ((i, w, t) for i in FEEDBACK_INFORMANTS for w in FEEDBACK_WAVES for t in FEEDBACK_ITEMS):
        if key not in wanted:
            continue
        if key not in agg.index:
            rows.append({"informant": key[0], "wave": key[1], "item": key[2], "n": 0, "n_better": 0,
                         "n_no_change": 0, "n_worse": 0, "estimate": np.nan, "ci_lower": np.nan,
                         "ci_upper": np.nan, "mean_rating": np.nan})
            continue
        a = agg.loc[key]
        n, k = int(a["n"]), int(a["n_better"])
        lo, hi = wilson_ci(k, n, alpha=alpha)
        rows.append({"informant": key[0], "wave": key[1], "item": key[2], "n": n, "n_better": k,
                     "n_no_change": int(a["n_no_change"]), "n_worse": int(a["n_worse"]), "estimate": k / n,
                     "ci_lower": float(lo), "ci_upper": float(hi), "mean_rating": float(a["mean_rating"])})
    meta = make_meta(n_in=len(fb), excluded={"no rating": int(r.isna().sum())}, unit="ratings", alpha=alpha,
                     method="share of ratings of 4 or 5 (better, much better) on a 1-5 scale, Wilson intervals",
                     n_referrals=int(fb["referral_id"].nunique()))
    return AnalysisResult(summary=pd.DataFrame(rows), meta=meta, title="Structured feedback by informant and wave")


def feedback_rows(data) -> list[tuple]:
    """The (informant, wave, item) rows somebody rated in ``data`` (for :func:`feedback`'s ``rows``)."""
    fb = getattr(data, "feedback", None)
    if fb is None or not len(fb):
        return []
    ok = pd.to_numeric(fb["rating"], errors="coerce").notna()
    return sorted(set(zip(fb["informant"][ok], fb["wave"][ok], fb["item"][ok])))


_BANDS = ("high", "medium", "standard")


def _intake_band(data, instrument: str = "DASH") -> pd.Series:
    """Band of each referral's practitioner intake score (DASH: 14+ high, 10-13 medium), else missing."""
    ra = data.risk_assessments
    ids = data.referrals["referral_id"]
    if ra is None or not len(ra):
        return pd.Series(pd.NA, index=ids.index, dtype=object)
    i = ra[(ra["timepoint"] == "intake") & (ra["instrument"] == instrument) & (ra["informant"] == "practitioner")]
    score = ids.map(i.drop_duplicates("referral_id").set_index("referral_id")["score"])
    return pd.Series(np.select([score >= 14, score >= 10, score.notna()], list(_BANDS), default=None),
                     index=ids.index, dtype=object).where(score.notna(), None)


def waiting_list(data) -> AnalysisResult:
    """Referrals waiting at the data extract date, by risk band (highest first).

    Returns
    -------
    AnalysisResult
        ``summary``: ``risk_band`` (High, Medium, Standard, Not recorded), ``n_waiting``,
        ``n_awaiting_assessment``, ``n_awaiting_start``, ``median_weeks_waiting`` (so far) and
        ``basis`` (referrer's risk level or intake score).
    """
    ep = data.episodes
    open_ = ep["exit_reason"].isna() & ep["start_date"].isna()
    awaiting_assessment = open_ & ep["assessment_date"].isna()
    awaiting_start = open_ & ep["assessment_outcome"].eq("suitable")
    waiting = awaiting_assessment | awaiting_start
    given = ep["referral_risk_level"] if "referral_risk_level" in ep else pd.Series(None, index=ep.index)
    intake = _intake_band(data)
    band = given.astype(object).where(given.notna(), intake)
    basis = np.where(given.notna(), "referrer's risk level", np.where(intake.notna(), "intake risk score", ""))
    since = np.where(awaiting_start, ep["assessment_date"], ep["referral_date"])
    weeks = (ep["data_extract_date"] - pd.to_datetime(since)).dt.days / 7
    rows = []
    for b in (*_BANDS, None):
        m = waiting & (band.isna() if b is None else band.eq(b))
        if b is None and not m.any():
            continue
        bases = sorted(set(basis[m.to_numpy()]) - {""})
        rows.append({"risk_band": "Not recorded" if b is None else b.capitalize(), "n_waiting": int(m.sum()),
                     "n_awaiting_assessment": int((m & awaiting_assessment).sum()),
                     "n_awaiting_start": int((m & awaiting_start).sum()),
                     "median_weeks_waiting": float(weeks[m].median()) if m.any() else np.nan,
                     "basis": " and ".join(bases)})
    meta = make_meta(n_in=len(ep), excluded={"not waiting at the extract date": int((~waiting).sum())},
                     unit="referrals", method="referrals with no exit and no start, awaiting assessment or a place; "
                     "band from the referrer's risk level, else the practitioner's intake DASH (14+ high, 10-13 "
                     "medium)", n_waiting=int(waiting.sum()))
    counts = ("n_waiting", "n_awaiting_assessment", "n_awaiting_start")
    # bands of a handful of people are merged ("Medium or Standard"), never withheld; a median over fewer
    # people than the threshold is not shown
    roles = [Merge(by=(), level="risk_band", add=counts), Label("risk_band", "basis"), Count(*counts),
             Summary(("median_weeks_waiting",), n="n_waiting", grain=1.0)]
    return AnalysisResult(summary=pd.DataFrame(rows), meta=meta, title="Waiting list by risk band",
                          roles={"summary": roles})

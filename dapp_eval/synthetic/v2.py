"""The items of data contract version 2 in the synthetic data, with their truth.

:func:`dapp_eval.synthetic.simulate` calls :func:`simulate_v2` after every
version-1 table is drawn.  Everything here comes from a random stream of its
own (``SeedSequence(seed, spawn_key=(32,))``), so the version-1 columns and
tables of a seed are byte for byte what they were before version 2 existed;
only ``referrals.csv`` gains columns (and ``programme_name``, empty before, is
filled) and four tables are added.

Known truth, written to ``truth.json`` under ``contract_v2``:

- protected characteristics, district and complex needs per person, some
  drawn given the outcome of the person's first referral, so that the
  equality monitoring has a known inequality to find: disability is more
  common among people who started and left early (completion is lower among
  disabled people) and an interpreter is more often needed by people who did
  not start (fewer of them start);
- children: age band and plan at referral, and the plan 12 months later drawn
  from a transition matrix that depends on whether the referral completed;
- partner support: start, contacts, sessions, safety plan, and whether it ran
  for the length of the perpetrator's programme (probability
  ``p_covers_episode``);
- capacity: places filled per site and quarter are the people attending
  (from ``sessions.csv``); places offered follow from a utilisation drawn per
  quarter; funding is the site's annual cost split between funders;
- feedback: Likert ratings whose chance of being positive (4 or 5) depends on
  the informant and on whether the referral completed.

Examples
--------
>>> from dapp_eval import synthetic
>>> prog = synthetic.simulate(referrals=300, sites=2, seed=5)
>>> sorted(prog.truth["contract_v2"]["n_rows"])
['capacity', 'children', 'feedback', 'partner_support']
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dapp_eval.data import schema

__all__ = ["V2_SPAWN_KEY", "simulate_v2", "quarter_starts"]

#: the spawn key of the version-2 random stream (the version-1 streams are the seed's first ten children)
V2_SPAWN_KEY = (32,)
_STARTED_EXITS_LEFT_EARLY = ("dropped_out", "excluded", "moved_away", "custody", "other")
_NOT_STARTED_EXITS = ("declined_assessment", "unsuitable", "declined_to_start")


def quarter_starts(first: pd.Timestamp, last: pd.Timestamp) -> list[pd.Timestamp]:
    """First days of the quarters (January, April, July, October) from the one holding ``first`` to ``last``.

    Examples
    --------
    >>> [d.date().isoformat() for d in quarter_starts(pd.Timestamp("2023-04-01"), pd.Timestamp("2023-12-31"))]
    ['2023-04-01', '2023-07-01', '2023-10-01']
    """
    q = pd.Timestamp(first).to_period("Q").start_time
    out = []
    while q <= pd.Timestamp(last):
        out.append(q)
        q = (q + pd.offsets.QuarterBegin(1, startingMonth=1)).normalize()
    return out


def _dates(days: np.ndarray) -> pd.Series:
    """Day numbers since 1970-01-01 (float, NaN = missing) -> datetime64[ns] Series (both generators use it)."""
    arr = np.asarray(days, dtype=float)
    out = np.full(arr.shape, np.datetime64("NaT"), dtype="datetime64[D]")
    ok = ~np.isnan(arr)
    out[ok] = arr[ok].astype(np.int64).astype("datetime64[D]")
    return pd.Series(out.astype("datetime64[ns]"))


def _bool(values: np.ndarray, missing: np.ndarray | None = None) -> pd.Series:
    s = pd.array(np.asarray(values, dtype=bool), dtype="boolean")
    if missing is not None:
        s[np.asarray(missing, dtype=bool)] = pd.NA
    return pd.Series(s)


def _int(values: np.ndarray) -> pd.Series:
    arr = np.asarray(values, dtype=float)
    s = pd.array(np.where(np.isnan(arr), 0, arr).astype(np.int64), dtype="Int64")
    s[np.isnan(arr)] = pd.NA
    return pd.Series(s)


def _ids(prefix: str, n: int, width: int = 6) -> np.ndarray:
    width = max(width, len(str(n)))
    return np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), width)).astype(object) if n else \
        np.asarray([], dtype=object)


def _choice(rng, probs: dict, n: int) -> np.ndarray:
    keys = list(probs)
    p = np.asarray([probs[k] for k in keys], dtype=float)
    return np.asarray(keys, dtype=object)[rng.choice(len(keys), size=n, p=p / p.sum())]


def _uniform_int(rng, lo_hi, n) -> np.ndarray:
    lo, hi = lo_hi
    return rng.integers(lo, hi + 1, size=n)


def simulate_v2(st) -> dict[str, Any]:
    """Add the contract-version-2 items to ``st.tables`` and return their truth (see the module docstring)."""
    par = st.par["contract_v2"]
    rng = np.random.default_rng(np.random.SeedSequence(int(st.seed), spawn_key=V2_SPAWN_KEY))
    truth: dict[str, Any] = {"parameters": par, "stream": f"SeedSequence(seed, spawn_key={V2_SPAWN_KEY})"}
    new = {}
    for step in (_people, _children, _partner_support, _capacity, _feedback):
        step(st, rng, par, truth, new)
    for name, df in new.items():
        st.tables[name] = df[schema.TABLES[name].names].reset_index(drop=True)
    truth["n_rows"] = {name: len(df) for name, df in new.items()}
    return truth


def _outcomes(st):
    reason = st.tables["referrals"]["exit_reason"].to_numpy(dtype=object)
    return (reason, reason == "completed", np.isin(reason, _STARTED_EXITS_LEFT_EARLY),
            np.isin(reason, _NOT_STARTED_EXITS))


def _identity(rng, par, grp: np.ndarray, n_people: int):
    """Disability (by how the first referral ended), religion and sexual orientation per person."""
    u = rng.random(n_people)
    dy = par["disability_yes"]
    p_yes = np.select([grp == "completed", grp == "left_early"], [dy["completed"], dy["left_early"]], dy["other"])
    und = par["disability_undisclosed"]
    disability = np.where(u < p_yes, "yes", np.where(u < p_yes + und["prefer_not_to_say"], "prefer_not_to_say",
                          np.where(u < p_yes + und["prefer_not_to_say"] + und["not_recorded"], "not_recorded",
                                   "no"))).astype(object)
    religion = _choice(rng, par["religion"], n_people)
    orientation = _choice(rng, par["sexual_orientation"], n_people)
    return disability, religion, orientation


def _district(rng, st, par, site_of_person: np.ndarray, n_people: int) -> np.ndarray:
    """Each person's district: a place of their site and a district word (some missing)."""
    dw = np.asarray(par["district_weights"], dtype=float)
    d_idx = rng.choice(len(dw), size=n_people, p=dw / dw.sum())
    places = st.par["place_names"]
    names = np.array([f"{places[s % len(places)]} {w}" for s in range(st.k) for w in par["district_words"]],
                     dtype=object)  # one name per (site, district word): people take theirs by position
    district = names[site_of_person * len(par["district_words"]) + d_idx]
    district[rng.random(n_people) < par["district_missing"]] = None
    return district


def _language(rng, par, not_started: np.ndarray, n_people: int):
    """Interpreter needed (more often among those who never started) and first language."""
    p_int = np.where(not_started, par["interpreter_needed"]["not_started"], par["interpreter_needed"]["other"])
    interpreter = rng.random(n_people) < p_int
    lang_int = _choice(rng, par["interpreter_languages"], n_people)
    other_lang = rng.random(n_people) < par["other_language_if_no_interpreter"]
    lang_other = _choice(rng, par["interpreter_languages"], n_people)
    language = np.where(interpreter, lang_int, np.where(other_lang, lang_other, "english")).astype(object)
    return interpreter, language


def _needs(rng, par, n_people: int):
    """Adverse childhood experiences (gamma-Poisson, capped at 10; some missing) and mental health need."""
    ag = par["aces_gamma"]
    aces = np.minimum(rng.poisson(rng.gamma(ag["shape"], ag["scale"], size=n_people)), 10).astype(float)
    aces[rng.random(n_people) < par["aces_missing"]] = np.nan
    mh = rng.random(n_people) < par["mental_health"]["p"]
    mh_missing = rng.random(n_people) < par["mental_health"]["missing"]
    return aces, mh, mh_missing


def _risk_level_and_strand(rng, st, par, n: int):
    """Per referral: the referrer's risk level and the programme strand (a second strand at group sites)."""
    risk_level = _choice(rng, par["referral_risk_level"], n)
    risk_level[rng.random(n) < par["referral_risk_level_missing"]] = None
    word = np.array([m["programme_word"] for m in st.mspec], dtype=object)[st.site]
    strand = par["second_strand"]
    second = (np.array(st.models, dtype=object)[st.site] == "group24") & (rng.random(n) < strand["share"])
    programme = np.where(second, strand["name"], word).astype(object)
    return risk_level, programme


def _people(st, rng, par, truth, new) -> None:
    """Protected characteristics, district and complex needs per person; risk level and strand per referral."""
    n, n_people, person, roots = st.n, st.n_people, st.person, st.roots
    ref = st.tables["referrals"]
    _, completed, left_early, not_started = _outcomes(st)

    # -- people: protected characteristics, district, complex needs -----------------------------------------
    root = roots  # each person's first referral (index into the referrals)
    grp = np.where(completed[root], "completed", np.where(left_early[root], "left_early", "other"))
    # (the order of these calls is the order of the draws: keep it, the data are fixed for a seed)
    disability, religion, orientation = _identity(rng, par, grp, n_people)
    district = _district(rng, st, par, st.site[root], n_people)
    interpreter, language = _language(rng, par, not_started[root], n_people)
    aces, mh, mh_missing = _needs(rng, par, n_people)
    risk_level, programme = _risk_level_and_strand(rng, st, par, n)

    ref = ref.copy()
    ref["programme_name"] = programme
    ref["district"] = district[person]
    ref["disability"] = disability[person]
    ref["religion"] = religion[person]
    ref["sexual_orientation"] = orientation[person]
    ref["aces_score"] = _int(aces[person])
    ref["aces_flag"] = _bool(aces[person] >= par["aces_flag_from"], np.isnan(aces[person]))
    ref["mental_health"] = _bool(mh[person], mh_missing[person])
    ref["interpreter_needed"] = _bool(interpreter[person])
    ref["language"] = language[person]
    ref["referral_risk_level"] = risk_level
    st.tables["referrals"] = ref[schema.TABLES["referrals"].names]

    def counts(col):
        return {str(k): int(v) for k, v in ref[col].fillna("missing").astype(str).value_counts().sort_index().items()}

    truth["referrals_by"] = {c: counts(c) for c in ("disability", "religion", "sexual_orientation", "district",
                                                     "interpreter_needed", "programme_name", "referral_risk_level")}


def _children(st, rng, par, truth, new) -> None:
    """One row per child and referral: age band, plan at referral and 12 months later."""
    n, person = st.n, st.person
    _, completed, _, _ = _outcomes(st)
    cp = par["children"]
    n_kids = st.p_children[person].astype(np.int64)
    owner = np.repeat(np.arange(n), n_kids)
    pos = np.arange(n_kids.sum()) - np.repeat(np.concatenate([[0], np.cumsum(n_kids)[:-1]]), n_kids)
    # a child is the person's k-th child: the same child in every referral of the person
    kid_person = person[owner]
    kid_code = kid_person * 8 + pos
    uniq_kid, kid_idx = np.unique(kid_code, return_inverse=True)
    kid_band = _choice(rng, cp["age_band"], len(uniq_kid))
    child_ids = _ids("C", len(uniq_kid), width=6)
    at_ref = _choice(rng, cp["plan_at_referral"], len(owner))
    known = (st.ref_day[owner] + 365) <= st.d_ex
    plans4 = ["none", "child_in_need", "child_protection", "looked_after"]
    later = np.full(len(owner), None, dtype=object)
    kid_grp = np.where(completed[owner], "completed", "not_completed")
    draw = rng.random(len(owner))
    for g in ("completed", "not_completed"):
        for start, probs in cp["plan_at_12_months"][g].items():
            m = (kid_grp == g) & (at_ref == start)
            cum = np.cumsum(probs)
            later[m] = np.asarray(plans4, dtype=object)[np.minimum(np.searchsorted(cum, draw[m] * cum[-1],
                                                                                   side="right"), 3)]
    later[at_ref == "not_recorded"] = "not_recorded"
    later[~known] = None
    children = pd.DataFrame({"child_id": child_ids[kid_idx], "referral_id": st.ref_ids[owner],
                             "age_band": kid_band[kid_idx], "plan_at_referral": at_ref, "plan_at_12_months": later})
    trans = {}
    for g in ("completed", "not_completed"):
        m = (kid_grp == g) & known
        tab = pd.crosstab(pd.Series(at_ref[m], name="at_referral"), pd.Series(later[m], name="at_12_months"))
        trans[g] = {str(a): {str(b): int(v) for b, v in row.items() if v} for a, row in tab.iterrows()}
    truth["children"] = {"n_children_rows": len(children), "n_distinct_children": len(uniq_kid),
                         "n_referrals_with_children": int((n_kids > 0).sum()),
                         "transitions_realised": trans}
    new["children"] = children


def _supported(st):
    prt = st.tables["partners"]
    supported = prt["support_accepted"].fillna(False).to_numpy(dtype=bool)
    r_of = pd.Index(st.ref_ids).get_indexer(prt["referral_id"])
    return prt, np.flatnonzero(supported), r_of


def _partner_support(st, rng, par, truth, new) -> None:
    """Partner support of every (ex-)partner who accepted it."""
    ps = par["partner_support"]
    prt, idx, r_of = _supported(st)
    ri = r_of[idx]
    base = np.where(np.isnan(st.assess_day[ri]), st.ref_day[ri], st.assess_day[ri])
    s_start = base + _uniform_int(rng, ps["start_after_days"], len(idx))
    started = ~np.isnan(st.start_day[ri])
    perp_end = np.asarray(st.exit_day, dtype=float)[ri]  # NaN while the perpetrator is still open
    covers = started & (rng.random(len(idx)) < ps["p_covers_episode"])
    after = _uniform_int(rng, ps["after_exit_days"], len(idx))
    open_end = np.where(np.isnan(perp_end), st.d_ex + 1 + after, perp_end + after)
    length = np.maximum(np.where(np.isnan(perp_end), st.d_ex, perp_end) - s_start, 2)
    short = s_start + 1 + np.floor(rng.random(len(idx)) * (length - 1))
    not_st = s_start + _uniform_int(rng, ps["not_started_days"], len(idx))
    s_end = np.where(covers, open_end, np.where(started, short, not_st)).astype(float)
    keep = s_start <= st.d_ex
    is_open = s_end > st.d_ex
    weeks = (np.minimum(s_end, st.d_ex) - s_start) / 7
    contacts = rng.poisson(ps["contacts_base"] + ps["contacts_per_week"] * np.maximum(weeks, 0))
    sessions_ = rng.poisson(ps["sessions_per_week"] * np.maximum(weeks, 0))
    plan = rng.random(len(idx)) < ps["p_safety_plan"]
    closed = np.where(covers, _choice(rng, ps["closed_if_covered"], len(idx)),
                      _choice(rng, ps["closed_if_not_covered"], len(idx))).astype(object)
    closed[is_open] = None
    s_end[is_open] = np.nan
    k = keep
    partner_support = pd.DataFrame({
        "partner_id": prt["partner_id"].to_numpy()[idx][k], "referral_id": prt["referral_id"].to_numpy()[idx][k],
        "support_start": _dates(s_start[k].astype(float)), "support_end": _dates(s_end[k]),
        "n_contacts": _int(contacts[k].astype(float)), "n_sessions": _int(sessions_[k].astype(float)),
        "safety_plan": _bool(plan[k]), "closed_reason": closed[k]})
    truth["partner_support"] = {
        "n_rows": int(k.sum()), "n_partners_accepted": len(idx),
        "n_covering_episode_among_left": int((covers & ~np.isnan(perp_end) & k).sum()),
        "n_started_and_left": int((started & ~np.isnan(perp_end) & k).sum()),
        "n_safety_plan": int(plan[k].sum())}
    new["partner_support"] = partner_support


def _capacity(st, rng, par, truth, new) -> None:
    """Places filled (people attending), offered (from a utilisation), groups, staff and funding by quarter."""
    cap = par["capacity"]
    sites = st.tables["sites"]
    ses = st.tables["sessions"]
    p_start, p_end = sites["period_start"].min(), sites["period_end"].max()
    quarters = quarter_starts(p_start, p_end)
    att = ses[ses["attended"].fillna(False).to_numpy(dtype=bool)]
    att_site = st.site[pd.Index(st.ref_ids).get_indexer(att["referral_id"])]
    q_of = att["session_date"].dt.to_period("Q").dt.start_time.to_numpy()
    rows = []
    fte = np.round(rng.uniform(*cap["staff_fte"], size=st.k), 1)
    shares = cap["funding_shares"]
    filled_truth = {}
    for s_i, sid in enumerate(st.site_ids):
        model = str(sites["programme_model"].iloc[s_i])
        for q in quarters:
            m = (att_site == s_i) & (q_of == np.datetime64(q))
            filled = len(pd.unique(att["referral_id"].to_numpy()[m]))
            util = rng.uniform(*cap["utilisation"])
            offered = int(np.ceil(filled / util)) if filled else 0
            groups = int(np.ceil(offered / cap["group_size"])) if model != "one_to_one" else 0
            filled_truth[f"{sid} {q.date().isoformat()}"] = [filled, offered]
            quarter_cost = float(sites["annual_cost_gbp"].iloc[s_i]) / 4
            for j, (funder, share) in enumerate(shares.items()):
                rows.append({"site_id": sid, "quarter_start": q, "funder": funder,
                             "funding_gbp": round(quarter_cost * share, 2),
                             "groups_run": groups if j == 0 else None, "places_offered": offered if j == 0 else None,
                             "places_filled": filled if j == 0 else None, "staff_fte": fte[s_i] if j == 0 else None})
    capacity = pd.DataFrame(rows)
    capacity["quarter_start"] = pd.to_datetime(capacity["quarter_start"]).astype("datetime64[ns]")
    for c in ("groups_run", "places_offered", "places_filled"):
        capacity[c] = pd.array(capacity[c], dtype="Int64")
    capacity["staff_fte"] = capacity["staff_fte"].astype(float)
    truth["capacity"] = {"places_filled_offered": filled_truth, "staff_fte": dict(zip(st.site_ids, fte.tolist()))}
    new["capacity"] = capacity


def _feedback(st, rng, par, truth, new) -> None:
    """Likert ratings of change by informant and wave."""
    n, person = st.n, st.person
    reason, completed, _, _ = _outcomes(st)
    _, idx, r_of = _supported(st)
    fb = par["feedback"]
    left = np.isin(reason, ("completed", *_STARTED_EXITS_LEFT_EARLY)) & ~np.isnan(np.asarray(st.exit_day, float))
    has_support = np.zeros(n, dtype=bool)
    has_support[r_of[idx]] = True
    grp_r = np.where(completed, "completed", "other")
    frames = []
    realised: dict[str, dict[str, list[int]]] = {}
    fu_ok = (np.asarray(st.exit_day, float) + fb["follow_up_days"]) <= st.d_ex
    for key, informant, wave, eligible in (
            ("perpetrator_exit", "perpetrator", "exit", left),
            ("partner_exit", "partner", "exit", left & has_support),
            ("referring_agency_exit", "referring_agency", "exit", left),
            ("referring_agency_follow_up", "referring_agency", "follow_up", left & fu_ok)):
        p_r = np.where(completed, fb["p_respond"][key]["completed"], fb["p_respond"][key]["other"])
        who = np.flatnonzero(eligible & (rng.random(n) < p_r))
        for item in fb["items"][informant]:
            w = who[st.p_children[person[who]] > 0] if item == "children" else who
            pp = fb["p_positive"][informant]
            p_pos = np.where(completed[w], pp["completed"], pp["other"])
            pos_ = rng.random(len(w)) < p_pos
            hi = _choice(rng, fb["positive_levels"], len(w)).astype(int)
            lo = _choice(rng, fb["other_levels"], len(w)).astype(int)
            frames.append(pd.DataFrame({"_r": w, "informant": informant, "wave": wave, "item": item,
                                        "rating": np.where(pos_, hi, lo)}))
            for g in ("completed", "other"):
                mg = grp_r[w] == g
                realised.setdefault(f"{informant} {wave} {item}", {})[g] = [int((pos_ & mg).sum()), int(mg.sum())]
    feedback = pd.concat(frames, ignore_index=True).sort_values(["_r", "informant", "wave", "item"], kind="stable")
    feedback.insert(0, "referral_id", st.ref_ids[feedback.pop("_r").to_numpy()])
    feedback["rating"] = pd.array(feedback["rating"], dtype="Int64")
    truth["feedback"] = {"positive_realised": realised}
    new["feedback"] = feedback

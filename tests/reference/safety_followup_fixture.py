"""Make the fixed programme folders used by tests/test_safety.py and tests/test_followup.py.

Run once from the project root (the output is committed; the R references in
``safety_reference.R`` / ``followup_reference.R`` were computed on it):

    .venv/bin/python tests/reference/safety_followup_fixture.py

Writes ``tests/reference/safety_followup_fixture/`` (a programme: two sites,
partners, partner surveys T1-T4, linked incidents) and
``tests/reference/followup_comparison_fixture/`` (a comparison cohort in the
same layout).  The generator is deliberately simple and independent of
``dapp_eval.synthetic``; it only has to produce valid, realistic-looking data
with non-response that depends on programme status.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
EXTRACT = pd.Timestamp("2022-09-30")
BEHAVIOURS = {  # T1 prevalence
    "physical_violence": 0.55, "sexual_violence": 0.25, "threats": 0.6, "weapon_used": 0.2, "injury": 0.45,
    "harassment_stalking": 0.5, "coercive_control": 0.8, "child_exposed": 0.4,
}
WAVE_MONTHS = {"T1": 0, "T2": 3, "T3": 6, "T4": 12}
# log-odds shift by wave for each programme status
SHIFT = {
    "completed": {"T1": 0.0, "T2": -0.8, "T3": -1.4, "T4": -2.0},
    "dropped_out": {"T1": 0.0, "T2": -0.2, "T3": -0.3, "T4": -0.4},
    "other_exit": {"T1": 0.0, "T2": -0.3, "T3": -0.4, "T4": -0.5},
    "ongoing": {"T1": 0.0, "T2": -0.6, "T3": -1.0, "T4": -1.4},
}
RESPOND = {"completed": 0.8, "dropped_out": 0.35, "other_exit": 0.4, "ongoing": 0.6}


def _d(x) -> str:
    return "" if pd.isna(x) else pd.Timestamp(x).strftime("%Y-%m-%d")


def _b(x) -> str:
    return "" if x is None or (isinstance(x, float) and np.isnan(x)) else ("true" if x else "false")


def _status(reason, started):
    if not started:
        return "not_started"
    if reason == "completed":
        return "completed"
    if reason in ("dropped_out", "excluded"):
        return "dropped_out"
    if reason == "":
        return "ongoing"
    return "other_exit"


def _person(rng, programme):
    """One person's characteristics, shared by all their referrals."""
    gender = rng.choice(["male", "female", "unknown"], p=[0.9, 0.08, 0.02])
    age = int(rng.integers(18, 66)) if rng.random() > 0.03 else None
    eth = rng.choice(["white_british", "white_other", "asian", "black", "mixed", "other", "unknown"],
                     p=[0.6, 0.1, 0.1, 0.1, 0.04, 0.03, 0.03])
    emp = rng.choice(["employed", "unemployed", "other", "unknown"], p=[0.45, 0.4, 0.1, 0.05])
    prior = None if rng.random() < 0.05 else bool(rng.random() < (0.5 if programme else 0.65))
    subst = None if rng.random() < 0.05 else bool(rng.random() < 0.3)
    n_child = int(rng.poisson(1.2))
    return {"gender": gender, "age": age, "ethnicity": eth, "employment": emp,
            "prior_da_police_contact": prior, "substance_misuse": subst, "n_children": n_child}


def _referral_dates(rng, start, end, p_repeat):
    """Yield the person's referral dates: one, or a repeat 200-400 days later if that falls in the period.

    A generator, so the repeat's date is drawn after the first referral's own draws (the fixture's order).
    """
    span = (end - start).days
    n_ref = 2 if rng.random() < p_repeat else 1
    ref_date = start + pd.Timedelta(days=int(rng.integers(0, span - 200 if n_ref == 2 else span)))
    yield ref_date
    if n_ref == 2:
        ref_date = ref_date + pd.Timedelta(days=int(rng.integers(200, 400)))
        if ref_date <= end:
            yield ref_date


def _after_start(rng, sd):
    """How a started place ends: completed, dropped out, excluded, another exit, or still attending."""
    w = rng.random()
    if w < 0.50:
        return {"exit_date": sd + pd.Timedelta(days=168 + int(rng.integers(0, 21))), "exit_reason": "completed"}
    if w < 0.80:
        return {"exit_date": sd + pd.Timedelta(days=int(rng.integers(7, 150))), "exit_reason": "dropped_out"}
    if w < 0.84:
        return {"exit_date": sd + pd.Timedelta(days=int(rng.integers(7, 150))), "exit_reason": "excluded"}
    if w < 0.90:
        return {"exit_date": sd + pd.Timedelta(days=int(rng.integers(7, 150))),
                "exit_reason": str(rng.choice(["moved_away", "custody", "other"]))}
    return {}  # still attending at the extract date (no exit)


def _after_assessment(rng, ad):
    """Assessed: unsuitable, suitable but declined to start, or started (then `_after_start`)."""
    v = rng.random()
    if v < 0.08:
        return {"assessment_outcome": "unsuitable", "exit_date": ad + pd.Timedelta(days=1), "exit_reason": "unsuitable"}
    if v < 0.23:
        return {"assessment_outcome": "suitable", "exit_date": ad + pd.Timedelta(days=20),
                "exit_reason": "declined_to_start"}
    sd = ad + pd.Timedelta(days=int(rng.integers(7, 60)))
    return {"assessment_outcome": "suitable", "start_date": sd, **_after_start(rng, sd)}


def _pathway(rng, ref_date, programme):
    """Assessment, start and exit fields for one referral."""
    u = rng.random()
    if not programme:  # comparison cohort: referred, never offered a place
        return {"assessment_date": ref_date + pd.Timedelta(days=10), "assessment_outcome": "suitable",
                "exit_date": ref_date + pd.Timedelta(days=40), "exit_reason": "declined_to_start"}
    if u < 0.10:
        return {"exit_date": ref_date + pd.Timedelta(days=14), "exit_reason": "declined_assessment"}
    ad = ref_date + pd.Timedelta(days=int(rng.integers(7, 40)))
    return {"assessment_date": ad, **_after_assessment(rng, ad)}


def make_referrals(rng, n_people, sites, prefix, period, *, programme=True, p_repeat=0.08):
    rows = []
    start, end = period
    k = 0
    for i in range(n_people):
        pid = f"{prefix}P{i + 1:04d}"
        site = sites[rng.integers(len(sites))]
        person = _person(rng, programme)
        for ref_date in _referral_dates(rng, start, end, p_repeat):
            k += 1
            row = {"referral_id": f"{prefix}R{k:04d}", "participant_id": pid, "site_id": site,
                   "referral_date": ref_date,
                   "referral_source": rng.choice(["childrens_social_care", "police", "probation", "court", "self",
                                                  "health", "other"], p=[0.5, 0.15, 0.1, 0.05, 0.1, 0.05, 0.05]),
                   "gender": person["gender"], "age": person["age"], "ethnicity": person["ethnicity"],
                   "employment": person["employment"],
                   "prior_da_police_contact": person["prior_da_police_contact"],
                   "substance_misuse": person["substance_misuse"],
                   "relationship_to_victim": rng.choice(["partner", "ex_partner"], p=[0.6, 0.4]),
                   "abuse_types": ";".join(sorted(rng.choice(["physical", "emotional", "verbal", "coercive_control"],
                                                             size=2, replace=False))),
                   "n_children": person["n_children"], "assessment_date": pd.NaT, "assessment_outcome": "",
                   "start_date": pd.NaT, "exit_date": pd.NaT, "exit_reason": ""}
            row.update(_pathway(rng, ref_date, programme))
            rows.append(row)
    return pd.DataFrame(rows)


class _Ids:
    """Running incident and event numbers, shared by every kind of incident in one cohort."""

    def __init__(self, prefix):
        self.prefix, self.k, self.ev = prefix, 0, 0

    def incident(self):
        self.k += 1
        return f"{self.prefix}I{self.k:05d}"

    def event(self):
        self.ev += 1
        return f"{self.prefix}E{self.ev:05d}"


def _incident(iid, eid, pid, date, typ, outcome=pd.NaT):
    return {"incident_id": iid, "event_id": eid, "participant_id": pid, "incident_date": date,
            "incident_type": typ, "outcome_date": outcome}


def _police_linked(rng, ids, pid, t, eid):
    """The crime record (with a charge date some of the time) and arrest that may follow a call-out."""
    rows = []
    if rng.random() < 0.5:
        iid = ids.incident()
        od = t + pd.Timedelta(days=int(rng.integers(30, 300))) if rng.random() < 0.6 else pd.NaT
        if pd.notna(od) and od > EXTRACT:
            od = pd.NaT
        rows.append(_incident(iid, eid, pid, t, "da_crime", od))
    if rng.random() < 0.3:
        iid = ids.incident()
        rows.append(_incident(iid, eid, pid, t + pd.Timedelta(days=int(rng.integers(0, 2))), "arrest"))
    return rows


def _police_incidents(rng, ids, pid, idx, lo, frailty, mult, after_from):
    """Police call-outs (a crisis before referral, a programme effect after exit) and what follows them."""
    rows = []
    t = lo
    while True:
        base = 1.1 * frailty
        if idx["referral_date"] - pd.Timedelta(days=90) <= t < idx["referral_date"]:
            base *= 3  # crisis before referral
        elif t >= after_from:
            base *= mult
        t = t + pd.Timedelta(days=max(1, int(min(rng.exponential(365 / base), 20000))))
        if t > EXTRACT:
            return rows
        eid = ids.event()
        iid = ids.incident()
        eid = eid if rng.random() > 0.1 else ""
        rows.append(_incident(iid, eid, pid, t, "police_callout"))
        if eid:
            rows.extend(_police_linked(rng, ids, pid, t, eid))


def _agency_incidents(rng, ids, pid, typ, rate, lo, mult, after_from):
    """MARAC referrals (with clustering: repeats) or child-protection events at ``rate`` a year."""
    rows = []
    t = lo
    while True:
        r = rate * (mult if t >= after_from else 1.0)
        t = t + pd.Timedelta(days=max(1, int(min(rng.exponential(365 / r), 20000))))
        if t > EXTRACT:
            return rows
        eid = ids.event()
        rows.append(_incident(ids.incident(), eid, pid, t, typ))
        if typ == "marac_referral" and rng.random() < 0.3:
            t2 = t + pd.Timedelta(days=int(rng.integers(30, 200)))
            if t2 <= EXTRACT:
                eid = ids.event()
                rows.append(_incident(ids.incident(), eid, pid, t2, typ))


def make_incidents(rng, ref, sites_df, prefix, *, effect=True):
    data_from = sites_df.set_index("site_id")["incident_data_from"]
    rows = []
    ids = _Ids(prefix)
    for pid, g in ref.groupby("participant_id", sort=True):
        g = g.sort_values("referral_date")
        first = g.iloc[0]
        started = g[g["start_date"].notna()]
        idx = started.iloc[0] if len(started) else first
        lo = data_from[idx["site_id"]]
        frailty = rng.gamma(1.5, 1 / 1.5)
        reason = idx["exit_reason"] if isinstance(idx["exit_reason"], str) else ""
        status = _status(reason, pd.notna(idx["start_date"]))
        mult = {"completed": 0.45, "dropped_out": 0.8, "other_exit": 0.8, "ongoing": 0.6,
                "not_started": 0.9}[status] if effect else 0.85
        after_from = idx["exit_date"] if pd.notna(idx["exit_date"]) else idx["referral_date"]
        rows.extend(_police_incidents(rng, ids, pid, idx, lo, frailty, mult, after_from))
        for typ, rate in (("marac_referral", 0.25), ("child_protection", 0.3 if first["n_children"] > 0 else 0.0)):
            if rate:
                rows.extend(_agency_incidents(rng, ids, pid, typ, rate * frailty, lo, mult, after_from))
    return pd.DataFrame(rows)


def make_partners_and_surveys(rng, ref):
    partners, surveys = [], []
    v = 0
    for r in ref.itertuples(index=False):
        started = pd.notna(r.start_date)
        n_p = rng.choice([0, 1, 2], p=[0.07, 0.85, 0.08]) if started else int(rng.random() < 0.4)
        for _ in range(n_p):
            v += 1
            vid = f"V{v:04d}"
            offered = bool(rng.random() < 0.9)
            acc = (None if rng.random() < 0.1 else bool(rng.random() < 0.7)) if offered else None
            partners.append({"partner_id": vid, "referral_id": r.referral_id,
                             "relationship": "partner" if r.relationship_to_victim == "partner" else "ex_partner",
                             "gender": rng.choice(["female", "male", "unknown"], p=[0.88, 0.1, 0.02]),
                             "support_offered": offered, "support_accepted": acc})
            if not started:
                if rng.random() < 0.1:  # a stray T1 from a referral that never started
                    surveys.append({"partner_id": vid, "referral_id": r.referral_id, "wave": "T1",
                                    "survey_date": r.referral_date + pd.Timedelta(days=20),
                                    **{b: bool(rng.random() < p) for b, p in BEHAVIOURS.items()},
                                    "feels_safe": int(rng.integers(1, 6)), "space_for_action": 50.0})
                continue
            status = _status(r.exit_reason if isinstance(r.exit_reason, str) else "", True)
            u = rng.normal(0, 1)
            for w, m in WAVE_MONTHS.items():
                due = r.start_date + pd.Timedelta(days=int(round(m * 365.25 / 12)))
                if due > EXTRACT:
                    continue
                p_resp = 0.8 if w == "T1" else RESPOND[status]
                if rng.random() > p_resp:
                    continue
                ans = {}
                for b, p0 in BEHAVIOURS.items():
                    eta = np.log(p0 / (1 - p0)) + u + SHIFT[status][w]
                    ans[b] = None if rng.random() < 0.03 else bool(rng.random() < 1 / (1 + np.exp(-eta)))
                latent = -u - SHIFT[status][w] + rng.normal(0, 0.8)
                fs = int(np.clip(np.round(2.3 + 0.9 * latent), 1, 5))
                sfa = float(np.clip(np.round(45 - 8 * u - 6 * SHIFT[status][w] + rng.normal(0, 10), 1), 0, 100))
                surveys.append({"partner_id": vid, "referral_id": r.referral_id, "wave": w,
                                "survey_date": due + pd.Timedelta(days=int(rng.integers(0, 14))),
                                **ans, "feels_safe": fs if rng.random() > 0.04 else None,
                                "space_for_action": sfa if rng.random() > 0.05 else None})
    return pd.DataFrame(partners), pd.DataFrame(surveys)


def write(folder: Path, tables: dict[str, pd.DataFrame]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        out = df.copy()
        for c in out.columns:
            if pd.api.types.is_datetime64_any_dtype(out[c]):
                out[c] = out[c].map(_d)
            elif out[c].map(lambda x: isinstance(x, (bool, np.bool_))).any():
                out[c] = out[c].map(lambda x: _b(x) if x is not None and not (isinstance(x, float) and np.isnan(x))
                                    else "")
        out.to_csv(folder / f"{name}.csv", index=False)


def main() -> None:
    rng = np.random.default_rng(20240601)
    period = (pd.Timestamp("2019-04-01"), pd.Timestamp("2021-03-31"))
    sites = pd.DataFrame({
        "site_id": ["S1", "S2"], "site_name": ["North (fixture)", "South (fixture)"],
        "programme_model": ["group", "group"], "planned_sessions": [24, 24], "annual_cost_gbp": [28000.0, 40000.0],
        "target_completions": [30, 40], "period_start": [period[0]] * 2, "period_end": [period[1]] * 2,
        "data_extract_date": [EXTRACT] * 2,
        "incident_data_from": [pd.Timestamp("2016-01-01"), pd.Timestamp("2019-01-01")],
    })
    ref = make_referrals(rng, 420, ["S1", "S2"], "", period)
    partners, surveys = make_partners_and_surveys(rng, ref)
    inc = make_incidents(rng, ref, sites, "")
    ref_out = ref.copy()
    ref_out["age"] = ref_out["age"].astype("Int64")
    write(HERE / "safety_followup_fixture", {"sites": sites, "referrals": ref_out, "partners": partners,
                                             "partner_surveys": surveys, "incidents": inc})
    # comparison cohort: same layout, people referred elsewhere and never offered a place
    csites = sites.iloc[[0]].assign(site_id="C1", site_name="Comparison area (fixture)",
                                    incident_data_from=pd.Timestamp("2018-01-01"))
    cref = make_referrals(rng, 500, ["C1"], "C", period, programme=False, p_repeat=0.0)
    cref["age"] = cref["age"].astype("Int64")
    cinc = make_incidents(rng, cref, csites, "C", effect=False)
    write(HERE / "followup_comparison_fixture", {"sites": csites, "referrals": cref, "incidents": cinc})


if __name__ == "__main__":
    main()

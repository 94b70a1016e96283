"""Write a provider-style export of the shipped synthetic data, as a case-management system gives one.

    python examples/provider_export/make_export.py [DATA] [OUT]

(defaults: ``data_synthetic`` and ``examples/provider_export/export``).  The export holds the same
records as ``data_synthetic/`` in another shape:

- one workbook, ``provider_export.xlsx``, with sheets Services, Referrals, Attendance, Risk (DASH),
  Partners and Partner Surveys, plus a police CSV, ``police_incidents.csv``;
- the provider's own column names ("Client Ref", "Date of Referral") and DD/MM/YYYY dates as text;
- codes in words ("Dropped out", "DNA", "1:1"), Yes/No and Y/N booleans, a multi-select
  "Abuse Types" column ("Physical, Emotional");
- extra columns (Keyworker, Case Notes) and no assessment date: the export gives "Days Waiting" from
  referral to assessment instead, so the map derives assessment_date from it;
- the Risk (DASH) sheet has no instrument column (the sheet is DASH only).

Mapped with ``map.yaml`` beside this script, it loads to exactly the tables of ``data_synthetic/``
(``tests/test_provider_export.py`` checks it).  Nothing here identifies anyone: the data are synthetic
and the case notes are fixed phrases.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]

WORDS = {
    "programme_model": {"group": "Group", "one_to_one": "1:1", "mixed": "Mixed"},
    "referral_source": {"childrens_social_care": "Children's Social Care", "police": "Police",
                        "probation": "Probation", "court": "Court", "family_court": "Family Court",
                        "self": "Self-referral", "health": "Health", "other": "Other"},
    "gender": {"male": "Male", "female": "Female", "other": "Other", "unknown": "Not known"},
    "ethnicity": {"white_british": "White British", "white_other": "White Other", "asian": "Asian or Asian British",
                  "black": "Black or Black British", "mixed": "Mixed", "other": "Other", "unknown": "Not stated"},
    "employment": {"employed": "Employed", "unemployed": "Unemployed", "other": "Other", "unknown": "Not known"},
    "relationship": {"partner": "Partner", "ex_partner": "Ex-partner", "family": "Family member", "other": "Other"},
    "abuse_types": {"physical": "Physical", "emotional": "Emotional", "verbal": "Verbal", "sexual": "Sexual",
                    "financial": "Financial", "coercive_control": "Coercive control", "stalking": "Stalking"},
    "assessment_outcome": {"suitable": "Suitable", "unsuitable": "Not suitable"},
    "exit_reason": {"declined_assessment": "Declined assessment", "unsuitable": "Assessed unsuitable",
                    "declined_to_start": "Did not start", "dropped_out": "Dropped out", "excluded": "Excluded",
                    "moved_away": "Moved out of area", "custody": "In custody", "completed": "Completed programme",
                    "other": "Other"},
    "session_type": {"group": "Group", "one_to_one": "1:1"},
    "timepoint": {"intake": "Intake", "midpoint": "Midpoint", "exit": "Exit", "follow_up": "Follow-up"},
    "informant": {"practitioner": "Keyworker", "partner": "Partner", "self": "Client"},
    "wave": {"T1": "Baseline", "T2": "3 months", "T3": "6 months", "T4": "12 months"},
    "incident_type": {"police_callout": "Police call-out", "da_crime": "DA crime", "arrest": "Arrest",
                      "marac_referral": "MARAC referral", "child_protection": "Child protection"},
}
NOTES = ("Attended assessment", "Letter sent", "Rescheduled by phone", "Discussed with manager", "")


def _date(s: pd.Series) -> pd.Series:
    return s.dt.strftime("%d/%m/%Y").where(s.notna(), "")


def _words(s: pd.Series, table: str) -> pd.Series:
    return s.map(WORDS[table]).where(s.notna(), "")


def _yn(s: pd.Series, yes="Yes", no="No") -> pd.Series:
    return s.map({True: yes, False: no}).where(s.notna(), "").astype(object)


def _num(s: pd.Series) -> pd.Series:
    return s.astype(object).where(s.notna(), "")


def build(data_dir: Path, out: Path) -> list[Path]:
    """Write the export of ``data_dir`` into ``out``; returns the files written."""
    sys.path.insert(0, str(ROOT))
    from dapp_eval import load_programme

    d = load_programme(data_dir)
    out.mkdir(parents=True, exist_ok=True)
    s = d.sites
    services = pd.DataFrame({
        "Service Code": s["site_id"], "Service Name": s["site_name"],
        "Delivery Model": _words(s["programme_model"], "programme_model"),
        "Sessions Planned": _num(s["planned_sessions"]), "Annual Cost": _num(s["annual_cost_gbp"]),
        "Completion Target": _num(s["target_completions"]), "Contract Start": _date(s["period_start"]),
        "Contract End": _date(s["period_end"]), "Extract Date": _date(s["data_extract_date"]),
        "Police Data From": _date(s["incident_data_from"]),
    })
    r = d.referrals
    wait = (r["assessment_date"] - r["referral_date"]).dt.days
    abuse = r["abuse_types"].map(lambda v: ", ".join(WORDS["abuse_types"][p] for p in v.split(";"))
                                 if isinstance(v, str) and v else "")
    referrals = pd.DataFrame({
        "Referral Ref": r["referral_id"], "Client Ref": r["participant_id"], "Service Code": r["site_id"],
        "Date of Referral": _date(r["referral_date"]),
        "Referred By": _words(r["referral_source"], "referral_source"),
        "Programme": r["programme_name"].fillna(""), "Sessions Planned": _num(r["planned_sessions"]),
        "Sex": _words(r["gender"], "gender"), "Age": _num(r["age"]),
        "Ethnic Group": _words(r["ethnicity"], "ethnicity"),
        "Employment Status": _words(r["employment"], "employment"),
        "Previous Police Contact": _yn(r["prior_da_police_contact"], "Y", "N"),
        "Substance Use": _yn(r["substance_misuse"]),
        "Relationship to Victim": _words(r["relationship_to_victim"], "relationship"),
        "Abuse Types": abuse, "No. of Children": _num(r["n_children"]),
        "Keyworker": [f"Worker {chr(65 + i % 6)}" for i in range(len(r))],
        "Days Waiting": _num(wait.astype("Int64")),
        "Assessment Outcome": _words(r["assessment_outcome"], "assessment_outcome"),
        "Programme Start": _date(r["start_date"]), "Date Closed": _date(r["exit_date"]),
        "Closure Reason": _words(r["exit_reason"], "exit_reason"),
        "Case Notes": [NOTES[i % len(NOTES)] for i in range(len(r))],
    })
    se = d.sessions
    attendance = pd.DataFrame({
        "Referral Ref": se["referral_id"], "Session No": _num(se["session_number"]),
        "Session Date": _date(se["session_date"]), "Session Type": _words(se["session_type"], "session_type"),
        "Attendance": se["attended"].map({True: "Attended", False: "DNA"}),
    })
    ra = d.risk_assessments
    assert set(ra["instrument"]) == {"DASH"}, "the Risk (DASH) sheet holds DASH scores only"
    risk = pd.DataFrame({
        "Referral Ref": ra["referral_id"], "Date of Assessment": _date(ra["assessment_date"]),
        "Stage": _words(ra["timepoint"], "timepoint"), "DASH Score": _num(ra["score"]),
        "Completed By": _words(ra["informant"], "informant"),
    })
    p = d.partners
    partners = pd.DataFrame({
        "Partner Ref": p["partner_id"], "Referral Ref": p["referral_id"],
        "Relationship": _words(p["relationship"], "relationship"), "Gender": _words(p["gender"], "gender"),
        "Support Offered": _yn(p["support_offered"], "Y", "N"), "Support Accepted": _yn(p["support_accepted"]),
    })
    ps = d.partner_surveys
    surveys = pd.DataFrame({
        "Partner Ref": ps["partner_id"], "Referral Ref": ps["referral_id"],
        "Survey Wave": _words(ps["wave"], "wave"), "Date Completed": _date(ps["survey_date"]),
        "Physical violence": _yn(ps["physical_violence"]), "Sexual violence": _yn(ps["sexual_violence"]),
        "Threats": _yn(ps["threats"]), "Weapon used": _yn(ps["weapon_used"]), "Injury": _yn(ps["injury"]),
        "Harassment/Stalking": _yn(ps["harassment_stalking"]), "Coercive control": _yn(ps["coercive_control"]),
        "Child exposed": _yn(ps["child_exposed"]), "Feels Safe": _num(ps["feels_safe"]),
        "Space for Action": _num(ps["space_for_action"]),
    })
    inc = d.incidents
    police = pd.DataFrame({
        "Occurrence Ref": inc["incident_id"], "Event Ref": inc["event_id"].fillna(""),
        "Client Ref": inc["participant_id"], "Occurrence Date": _date(inc["incident_date"]),
        "Category": _words(inc["incident_type"], "incident_type"), "Outcome Date": _date(inc["outcome_date"]),
    })
    book = out / "provider_export.xlsx"
    with pd.ExcelWriter(book, engine="openpyxl") as xw:
        for name, df in (("Services", services), ("Referrals", referrals), ("Attendance", attendance),
                         ("Risk (DASH)", risk), ("Partners", partners), ("Partner Surveys", surveys)):
            df.to_excel(xw, sheet_name=name, index=False)
    csv = out / "police_incidents.csv"
    police.to_csv(csv, index=False, lineterminator="\n")
    return [book, csv]


if __name__ == "__main__":
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "data_synthetic"
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).resolve().parent / "export"
    for f in build(data, target):
        print(f"wrote {f}")

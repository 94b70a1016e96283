"""Make the small programme folder tests/reference/funnel_waiting_fixture/ (run once; output is committed).

Two sites, 90 referrals each, waits in whole days (so there are ties), people
still waiting at the extract date, competing exits while waiting. Only
sites.csv and referrals.csv: the waiting-time reference
(funnel_waiting_reference.R) needs no other table.

    .venv/bin/python tests/reference/funnel_make_fixture.py
"""

from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parent / "funnel_waiting_fixture"


def main(seed: int = 20240630) -> None:
    rng = np.random.default_rng(seed)
    OUT.mkdir(exist_ok=True)
    sites = pd.DataFrame({
        "site_id": ["A", "B"], "site_name": ["Site A (synthetic)", "Site B (synthetic)"],
        "programme_model": ["group", "group"], "planned_sessions": [12, 12],
        "annual_cost_gbp": [60000, 40000], "target_completions": [40, ""],
        "period_start": ["2023-04-01", "2023-04-01"], "period_end": ["2024-03-31", "2024-03-31"],
        "data_extract_date": ["2024-04-10", "2024-04-30"], "incident_data_from": ["", ""],
    })
    sites.to_csv(OUT / "sites.csv", index=False)
    rows = []
    start = pd.Timestamp("2023-04-01")
    extract = {"A": pd.Timestamp("2024-04-10"), "B": pd.Timestamp("2024-04-30")}
    mean_wait = {"A": 30.0, "B": 90.0}
    for site in ("A", "B"):
        for i in range(90):
            ref = start + pd.Timedelta(days=int(rng.integers(0, 366)))
            ext = extract[site]
            rec = {"referral_id": f"{site}{i:03d}", "participant_id": f"P{site}{i:03d}", "site_id": site,
                   "referral_date": ref, "referral_source": rng.choice(["police", "childrens_social_care", "self"]),
                   "gender": rng.choice(["male", "female"], p=[0.9, 0.1]), "age": int(rng.integers(18, 65)),
                   "ethnicity": rng.choice(["white_british", "asian", "black", "unknown"]),
                   "employment": rng.choice(["employed", "unemployed"]),
                   "prior_da_police_contact": rng.choice(["true", "false", ""]),
                   "substance_misuse": rng.choice(["true", "false"]),
                   "relationship_to_victim": rng.choice(["partner", "ex_partner"]),
                   "abuse_types": rng.choice(["physical;emotional", "verbal", "coercive_control;emotional"]),
                   "n_children": int(rng.integers(0, 4)),
                   "assessment_date": None, "assessment_outcome": None, "start_date": None,
                   "exit_date": None, "exit_reason": None}
            t_a = int(np.ceil(rng.exponential(mean_wait[site])))
            t_d = int(np.ceil(rng.exponential(200.0)))
            t_o = int(np.ceil(rng.exponential(700.0)))
            first = min(t_a, t_d, t_o)
            if ref + pd.Timedelta(days=first) > ext:
                rows.append(rec)  # awaiting assessment
                continue
            if first == t_a:
                adate = ref + pd.Timedelta(days=t_a)
                rec["assessment_date"] = adate
                if rng.random() < 0.1:
                    rec.update(assessment_outcome="unsuitable", exit_date=adate, exit_reason="unsuitable")
                    rows.append(rec)
                    continue
                rec["assessment_outcome"] = "suitable"
                s_s = int(np.ceil(rng.exponential(20.0)))
                s_d = int(np.ceil(rng.exponential(90.0)))
                s_o = int(np.ceil(rng.exponential(400.0)))
                f2 = min(s_s, s_d, s_o)
                if adate + pd.Timedelta(days=f2) > ext:
                    rows.append(rec)  # awaiting start
                    continue
                if f2 == s_s:
                    sdate = adate + pd.Timedelta(days=s_s)
                    rec["start_date"] = sdate
                    u = rng.random()
                    end = sdate + pd.Timedelta(days=int(rng.integers(7, 120)))
                    if end <= ext:
                        reason = "completed" if u < 0.55 else ("dropped_out" if u < 0.85 else
                                                               ("excluded" if u < 0.93 else "custody"))
                        rec.update(exit_date=end, exit_reason=reason)
                else:
                    rec.update(exit_date=adate + pd.Timedelta(days=f2),
                               exit_reason="declined_to_start" if f2 == s_d else "moved_away")
            else:
                rec.update(exit_date=ref + pd.Timedelta(days=first),
                           exit_reason="declined_assessment" if first == t_d else "moved_away")
            rows.append(rec)
    df = pd.DataFrame(rows)
    for c in ("referral_date", "assessment_date", "start_date", "exit_date"):
        df[c] = pd.to_datetime(df[c]).dt.strftime("%Y-%m-%d")
    df.to_csv(OUT / "referrals.csv", index=False)


if __name__ == "__main__":
    main()

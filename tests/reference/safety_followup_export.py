"""Export the analysis-level data that the R reference scripts fit.

Run from the project root after ``safety_followup_fixture.py``:

    .venv/bin/python tests/reference/safety_followup_export.py
    Rscript tests/reference/safety_reference.R
    Rscript tests/reference/followup_reference.R

The R scripts also recompute the paired tables, the per-person windows and
event counts directly from the raw fixture CSVs, independently of dapp_eval.
"""

from __future__ import annotations

from pathlib import Path

from dapp_eval.analyses import followup, safety
from dapp_eval.data.io import load_programme

HERE = Path(__file__).resolve().parent


def main() -> None:
    data = load_programme(HERE / "safety_followup_fixture")
    comp = load_programme(HERE / "followup_comparison_fixture")
    wm = safety.wave_model(data, behaviour="physical_violence")
    wm.tables["weights"].to_csv(HERE / "safety_export_response.csv", index=False)
    wm.tables["gee_data"].to_csv(HERE / "safety_export_gee.csv", index=False)
    tti = followup.time_to_incident(data, outcome="police")
    tti.tables["persons"][["participant_id", "group", "days", "event"]].to_csv(
        HERE / "followup_export_km.csv", index=False)
    cc = followup.compare_completers(data, outcome="police")
    cc.tables["persons"][["participant_id", "group", "n_police_before", "n_police_after", "exposure_after"]].to_csv(
        HERE / "followup_export_completers.csv", index=False)
    mc = followup.matched_comparison(data, comp, outcome="police")
    mc.tables["design"].to_csv(HERE / "followup_export_psm.csv", index=False)


if __name__ == "__main__":
    main()

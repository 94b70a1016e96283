"""Write the source of the narrated notebooks (then `make notebooks` executes them).

Plots are drawn as ``_ = res.plot()``: nbval executes cells without storing
history, where IPython's trailing-semicolon suppression does not apply, so an
Axes repr would otherwise differ between the stored and the checked run.

Kept as a script so the notebooks' cells are reviewed as code; the .ipynb
files in notebooks/ are what users open. Each cell makes one call into
dapp_eval; the narrative is in markdown.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
md = nbformat.v4.new_markdown_cell
code = nbformat.v4.new_code_cell

SETUP = 'import dapp_eval\n\nDATA = "../data_synthetic"  # change to your programme folder\ndata = dapp_eval.load_programme(DATA)'

NOTEBOOKS = {
    "02_engagement_attrition": [
        md("# 02 · Engagement and attrition\n\nThe referral-to-completion funnel, waiting times, attendance, who "
           "completes, and completion and dropout as competing exits. Every number comes from `dapp_eval.funnel` "
           "and `dapp_eval.attrition`; the same functions feed the commissioner report."),
        code(SETUP),
        md("## The funnel\n\nEach referral sits in exactly one stage, derived from its dates and exit reason. "
           "Conversions are taken among cases that have reached a decision at each step; cases still open are "
           "shown beside them (`n_open`), never counted as failures."),
        code('funnel = dapp_eval.funnel.cascade(data, by="site_id")\nfunnel.counts.query("group == \'all\'")[["stage", "level", "n", "pct_of_referred"]]'),
        code('funnel.conversion.query("group == \'all\'")[["conversion", "n_converted", "n_resolved", "n_open", "estimate", "ci_lower", "ci_upper"]].round(3)'),
        code("_ = funnel.plot()"),
        md("## Waiting times\n\nCompeting risks: starting vs leaving while waiting; people still waiting at the "
           "extract date are censored, never dropped and never a zero wait. The median is where the cumulative "
           "incidence of starting reaches 50%."),
        code('wait = dapp_eval.funnel.waiting_times(data, stage="assessment_to_start", by="site_id", unit="weeks")\nwait.summary.round(2)'),
        code("_ = wait.plot()"),
        code('dapp_eval.funnel.waiting_list(data, by="site_id").summary'),
        md("## Throughput against the contract target, and attendance"),
        code('dapp_eval.funnel.throughput(data, by=None, freq="fy_quarter").summary.drop(columns=["quarter_start", "quarter_end"])'),
        code('dapp_eval.funnel.attendance(data, by="site_id").summary.round(3)'),
        md("## Who completes? (Table 1)\n\nStandardised mean differences above 0.1 flag characteristics that "
           "differ between completers and people who left early. This is description, not causation."),
        code('t1 = dapp_eval.funnel.baseline_table(data, by="completion_status")\nt1.summary.query("abs(smd_max_abs) > 0.1")[["variable", "level", "group", "n", "pct", "mean", "smd_max_abs"]].round(3)'),
        md("## Completion and dropout as competing exits\n\nTime runs from the first attended session to the last "
           "attended one. The cumulative incidence of each exit allows for the others; the completion rate is the "
           "cumulative incidence of completion at the planned length plus a 4-week grace period."),
        code('cif = dapp_eval.attrition.cumulative_incidence(data, by="programme_model")\n_ = cif.plot()'),
        code("cif.tests.round(4)"),
        code('dapp_eval.attrition.completion_rate(data, by="site_id").summary.round(3)'),
        md("The Kaplan-Meier curve below censors completers and so **overstates dropout**; it is shown only for "
           "comparison with the cumulative incidence."),
        code("km = dapp_eval.attrition.retention_km(data)\n_ = km.plot()"),
        md("## Dropout models\n\nCause-specific Cox model of dropout with cluster-robust standard errors by person "
           "(repeat referrals), a proportional-hazards check, and the Fine-Gray subdistribution model beside it."),
        code('cox = dapp_eval.attrition.dropout_cox(data)\ncox.summary[["term", "hr", "ci_lower", "ci_upper", "p_value"]].round(3)'),
        code("cox.ph_test.round(3)"),
        code('dapp_eval.attrition.fine_gray(data).summary.round(3)'),
        code('dapp_eval.attrition.rmst(data, by="programme_model").summary.round(1)'),
    ],
}

if __name__ == "__main__":
    names = sys.argv[1:] or list(NOTEBOOKS)
    for name in names:
        nb = nbformat.v4.new_notebook()
        nb.cells = NOTEBOOKS[name]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.metadata["language_info"] = {"name": "python"}
        nbformat.write(nb, str(ROOT / "notebooks" / f"{name}.ipynb"))
        print(f"wrote notebooks/{name}.ipynb")

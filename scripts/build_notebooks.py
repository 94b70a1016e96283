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

PROVENANCE = 'print(f"data: {data.source}; input SHA-256 {data.input_hash[:16]}")'
OPEN = ('# evaluation.yaml (at the repository\'s top) says where the data are and how the export maps onto the\n'
        '# contract; to run every notebook on another export, edit its data: and column_map: lines, nothing here\n'
        'evaluation = dapp_eval.open_evaluation("../evaluation.yaml")')
SETUP = ('import dapp_eval\nfrom dapp_eval.results import stable_digits  # shows only the digits the method determines\n\n'
         + OPEN + '\ndata = evaluation.load()\n' + PROVENANCE)

NOTEBOOKS = {
    "01_data_quality": [
        md("# 01 · Data quality\n\nThis notebook loads a programme data folder, checks it against the data contract\n"
           "(`docs/data-contract.md`) and summarises what is in it. Run it first on every new export.\n\n"
           "It runs here on the shipped **synthetic** data (`data_synthetic/`). For a provider's export, edit\n"
           "the evaluation file `evaluation.yaml` at the repository's top: `data:` names the export's folder\n"
           "(kept outside this repository) and `column_map:` the map drafted by `dapp-eval map` (see the\n"
           "column-map guide in the docs). Every notebook and `dapp-eval --config evaluation.yaml` read the same file."),
        code('import dapp_eval\nfrom dapp_eval.data.quality import data_quality\nfrom dapp_eval.results import stable_digits  # shows only the digits the method determines\n\n' + OPEN),
        md("## Load and validate\n\n`load_programme` checks every rule of the contract in every file (types, allowed "
           "values, ranges,\nunique keys, links between tables, dates in order, sessions inside their episode). If "
           "anything is\nwrong it stops with **one** `DataValidationError` that lists every problem with file, "
           "spreadsheet\nrow, column, value and rule; `err.problems` holds the same list as a table. The same "
           "report is\navailable from the command line: `dapp-eval validate FOLDER`. Nothing is dropped or guessed. "
           "The input hash printed below identifies exactly which files the outputs come from."),
        code("data = evaluation.load()\n" + PROVENANCE + "\ndata"),
        md("## Table sizes"),
        code('dq = data_quality(data)\nstable_digits(dq.summary)'),
        md("## What the loader tolerated\n\nReal exports contain byte-order marks, Windows line endings, extra columns "
           "and trailing blank rows.\nThese are accepted and logged here rather than silently changed."),
        code('dq.tables["load_log"]'),
        md("## Sites and coverage"),
        code('stable_digits(dq.tables["coverage"])'),
        md("## Missing values\n\nColumns with any empty cell. `nullable` says whether the contract allows an empty "
           "cell there\n(a required column cannot be empty: the loader would have stopped)."),
        code('stable_digits(dq.tables["missingness"].query("n_missing > 0"))'),
    ],
    "02_engagement_attrition": [
        md("# 02 · Engagement and attrition\n\nThe referral-to-completion funnel, waiting times, attendance, who "
           "completes, and completion and dropout as competing exits. Every number comes from `dapp_eval.analyses.funnel` "
           "and `dapp_eval.analyses.attrition`; the same functions feed the commissioner report."),
        code(SETUP),
        md("## The funnel\n\nEach referral sits in exactly one stage, derived from its dates and exit reason. "
           "Conversions are taken among cases that have reached a decision at each step; cases still open are "
           "shown beside them (`n_open`), never counted as failures."),
        code('funnel = dapp_eval.analyses.funnel.cascade(data, by="site_id")\nstable_digits(funnel.counts.query("group == \'all\'")[["stage", "level", "n", "pct_of_referred"]])'),
        code('stable_digits(funnel.conversion.query("group == \'all\'")[["conversion", "n_converted", "n_resolved", "n_open", "estimate", "ci_lower", "ci_upper"]])'),
        code("_ = funnel.plot()"),
        md("## Waiting times\n\nCompeting risks: starting vs leaving while waiting; people still waiting at the "
           "extract date are censored, never dropped and never a zero wait. The median is where the cumulative "
           "incidence of starting reaches 50%."),
        code('wait = dapp_eval.analyses.funnel.waiting_times(data, stage="assessment_to_start", by="site_id", unit="weeks")\nstable_digits(wait.summary)'),
        code("_ = wait.plot()"),
        code('stable_digits(dapp_eval.analyses.funnel.waiting_list(data, by="site_id").summary)'),
        md("## Throughput against the contract target, and attendance"),
        code('stable_digits(dapp_eval.analyses.funnel.throughput(data, by=None, freq="fy_quarter").summary.drop(columns=["quarter_start", "quarter_end"]))'),
        code('stable_digits(dapp_eval.analyses.funnel.attendance(data, by="site_id").summary)'),
        md("## Who completes? (Table 1)\n\nStandardised mean differences above 0.1 flag characteristics that "
           "differ between completers and people who left early. This is description, not causation."),
        code('t1 = dapp_eval.analyses.funnel.baseline_table(data, by="completion_status")\nstable_digits(t1.summary.query("abs(smd_max_abs) > 0.1")[["variable", "level", "group", "n", "pct", "mean", "smd_max_abs"]])'),
        md("## Completion and dropout as competing exits\n\nTime runs from the first attended session to the last "
           "attended one. The cumulative incidence of each exit allows for the others; the completion rate is the "
           "cumulative incidence of completion at the planned length plus a 4-week grace period."),
        code('cif = dapp_eval.analyses.attrition.cumulative_incidence(data, by="programme_model")\n_ = cif.plot()'),
        code("stable_digits(cif.tests)"),
        code('stable_digits(dapp_eval.analyses.attrition.completion_rate(data, by="site_id").summary)'),
        md("The Kaplan-Meier curve below censors completers and so **overstates dropout**; it is shown only for "
           "comparison with the cumulative incidence."),
        code("km = dapp_eval.analyses.attrition.retention_km(data)\n_ = km.plot()"),
        md("## Dropout models\n\nCause-specific Cox model of dropout with cluster-robust standard errors by person "
           "(repeat referrals), a proportional-hazards check, and the Fine-Gray subdistribution model beside it."),
        code('cox = dapp_eval.analyses.attrition.dropout_cox(data)\nstable_digits(cox.summary[["term", "hr", "ci_lower", "ci_upper", "p_value"]])'),
        code("stable_digits(cox.ph_test)"),
        code('stable_digits(dapp_eval.analyses.attrition.fine_gray(data).summary)'),
        code('stable_digits(dapp_eval.analyses.attrition.rmst(data, by="programme_model").summary)'),
    ],
    "03_risk_reduction": [
        md("# 03 · Risk reduction\n\nPre/post change in the DASH risk checklist, reliable change, risk bands, a mixed "
           "model over all timepoints, and what missing exit scores could do to the conclusion.\n\nDASH is completed "
           "with the (ex-)partner: it describes the risk that person faces, not a trait of the person on the programme."),
        code(SETUP),
        md("## The instrument registry\n\nScore range, bands, items that cannot fall (they ask \"ever\"), and the SD "
           "and reliability used for reliable change, each with its source or marked as an assumption."),
        code("dapp_eval.analyses.risk.instruments()"),
        md("## Paired change, intake to exit\n\nPairs are formed only within the same instrument and informant. "
           "Everyone with only one score is counted with the reason. `any_improvement` is the kind of figure behind "
           "\"93% show a reduction in risk\"; `reliably_improved` is the defensible one."),
        code('chg = dapp_eval.analyses.risk.change(data)\nstable_digits(chg.summary[["statistic", "estimate", "ci_lower", "ci_upper", "p_value", "n", "n_total", "role"]])'),
        code("_ = chg.plot()"),
        md("## Risk bands and the high-risk group"),
        code('bands = dapp_eval.analyses.risk.band_transitions(data)\nbands.tables["matrix"]'),
        code('stable_digits(bands.summary)'),
        md("## All timepoints: linear mixed model\n\nRandom intercept per referral and per site (5 sites), timepoint "
           "as a fixed effect; exact REML equal to lme4's."),
        code('traj = dapp_eval.analyses.risk.trajectory(data)\nstable_digits(traj.summary)'),
        code("_ = traj.plot()"),
        md("## Missing exit scores\n\nComplete case vs inverse-probability weighting vs multiple imputation, with the "
           "assumption each makes, and the tipping point: how much worse the missing scores would have to be to "
           "overturn the conclusion."),
        code('miss = dapp_eval.analyses.risk.missing_exit(data)\nstable_digits(miss.summary[["method", "statistic", "population", "estimate", "ci_lower", "ci_upper", "n"]])'),
    ],
    "04_victim_safety": [
        md("# 04 · Safety of (ex-)partners and children\n\n(Ex-)partner surveys at the start (T1) and about 3, 6 and "
           "12 months later, in the style of Project Mirabal. Every percentage shows the number who answered that "
           "wave."),
        code(SETUP),
        md("## Prevalence by wave (all respondents)"),
        code('prev = dapp_eval.analyses.safety.prevalence(data)\nstable_digits(prev.summary[["wave", "behaviour", "role", "n_answered", "n_reporting", "estimate", "ci_lower", "ci_upper"]])'),
        code("_ = prev.plot()"),
        md("## Paired change among (ex-)partners who answered both waves\n\nExact McNemar; the primary outcome "
           "(physical violence) is unadjusted, the other behaviours are secondary and Holm-adjusted."),
        code('pc = dapp_eval.analyses.safety.paired_change(data)\nstable_digits(pc.summary[["behaviour", "role", "n_pairs", "prop_baseline", "prop_followup", "estimate", "ci_lower", "ci_upper", "p_value", "p_adjusted"]])'),
        md("## Three views side by side\n\nAll respondents, paired respondents, and a binomial GEE weighted by the "
           "inverse probability of responding (non-response depends on the programme outcome), with the unweighted "
           "fit beside it."),
        code("views = dapp_eval.analyses.safety.change_views(data)\nstable_digits(views.summary.query(\"behaviour == 'physical_violence'\"))"),
        md("## Who answered each wave?"),
        code('stable_digits(dapp_eval.analyses.safety.response_rates(data).summary)'),
        md("## Feeling safe and space for action"),
        code('fs = dapp_eval.analyses.safety.feeling_safe(data)\nstable_digits(fs.tables["headline"])'),
        code("_ = fs.plot()"),
        code('stable_digits(dapp_eval.analyses.safety.space_for_action(data).summary)'),
        md("## Support, and Mirabal's six measures of success"),
        code('stable_digits(dapp_eval.analyses.safety.partner_support(data).summary)'),
        code('dapp_eval.analyses.safety.mirabal_measures(data).summary[["measure_no", "measure", "informed_by", "status", "headline"]]'),
    ],
    "05_follow_up": [
        md("# 05 · Police, MARAC and children's services after the programme\n\nLinked records are keyed by person, "
           "so a re-referred person's events are not counted twice; records of one event count once. Only people "
           "whose whole window is covered by the linked data count."),
        code(SETUP),
        md("## Design 1: the 12 months before referral vs the 12 months after leaving\n\nWhat commissioners ask. "
           "Referral usually follows a crisis, so part of any fall is regression to the mean."),
        code('ba = dapp_eval.analyses.followup.before_after(data)\nprint(ba.meta["caveat"])\nstable_digits(ba.summary.drop(columns=["label", "note"]))'),
        code("_ = ba.plot()"),
        md("## Repeat MARAC (SafeLives definition)"),
        code('stable_digits(dapp_eval.analyses.followup.repeat_marac(data).summary)'),
        md("## Design 2: completers vs non-completers on aligned windows since referral\n\nThe same windows for "
           "everyone; still not a causal comparison."),
        code('cc = dapp_eval.analyses.followup.compare_completers(data)\nstable_digits(cc.summary)'),
        md("## Time to the first police incident after leaving"),
        code('tti = dapp_eval.analyses.followup.time_to_incident(data)\n_ = tti.plot()'),
    ],
}

def _keep_outputs(nb, path: Path) -> None:
    """Carry the stored outputs of the notebook at ``path`` over to ``nb`` cell by cell (same cell count and
    kinds): for a change of cell source that cannot change any output, without re-executing (nbval still
    checks that a fresh run reproduces them)."""
    if not path.exists():
        return
    old = nbformat.read(str(path), as_version=4)
    if [c.cell_type for c in old.cells] != [c.cell_type for c in nb.cells]:
        raise SystemExit(f"{path.name}: the cells changed; run `make notebooks` instead of --keep-outputs")
    for new_cell, old_cell in zip(nb.cells, old.cells):
        if new_cell.cell_type == "code":
            new_cell.outputs = old_cell.outputs
            new_cell.execution_count = old_cell.execution_count
        new_cell["id"] = old_cell.get("id", new_cell.get("id"))
        new_cell.metadata = old_cell.metadata
    nb.metadata = old.metadata


if __name__ == "__main__":
    keep = "--keep-outputs" in sys.argv
    names = [a for a in sys.argv[1:] if a != "--keep-outputs"] or list(NOTEBOOKS)
    for name in names:
        nb = nbformat.v4.new_notebook()
        nb.cells = NOTEBOOKS[name]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.metadata["language_info"] = {"name": "python"}
        if keep:
            _keep_outputs(nb, ROOT / "notebooks" / f"{name}.ipynb")
        nbformat.write(nb, str(ROOT / "notebooks" / f"{name}.ipynb"))
        print(f"wrote notebooks/{name}.ipynb")

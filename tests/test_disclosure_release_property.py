"""Issue 26: every export that validates renders a release that passes the audit (property-based).

Each case generates a programme folder (``dapp_eval.synthetic.generate``: sites of unequal size), picks a
scenario, a threshold from 5 to 20, an alpha from 0.01 to 0.2, sometimes a referral period (one month or
one year) and a subset of sites, and renders the release. ``render_release`` audits what it wrote and
withholds (with a sentence) any table the audit can work a count back from, so the properties are:

* the release renders (no refusal, no traceback);
* the audit of the release as written passes;
* no published count cell is a number from 1 to T-1.

The default run draws one case; ``pytest -m slow`` draws a wide sweep.
"""

from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dapp_eval.disclosure.audit import audit_release, decode_release
from dapp_eval.report import render_release
from dapp_eval.synthetic import generate


@st.composite
def cases(draw, max_referrals: int):
    referrals = draw(st.integers(20, max_referrals))
    sites = draw(st.integers(1, 8))
    case = {"referrals": referrals, "sites": sites, "seed": draw(st.integers(0, 10_000)),
            "scenario": draw(st.sampled_from(["default", "no_effect"])),
            "threshold": draw(st.integers(5, 20)), "alpha": draw(st.sampled_from([0.01, 0.05, 0.1, 0.2])),
            "period": draw(st.sampled_from([None, "month", "year"])),
            "subset": draw(st.booleans()) and sites > 1, "mapped": draw(st.booleans())}
    return case


def _as_provider_export(data):
    """The folder as a provider might send it: Yes/No words and a comma-separated multi-select column,
    with the column map that recodes them (the data-quality appendix then reports recoding counts)."""
    import pandas as pd

    ref = pd.read_csv(data / "referrals.csv", dtype=str, keep_default_na=False)
    ref["substance_misuse"] = ref["substance_misuse"].replace({"True": "Yes", "False": "No", "true": "Yes",
                                                               "false": "No"})
    ref["abuse_types"] = ref["abuse_types"].str.replace(";", ", ").str.title().str.replace("_", " ")
    ref.rename(columns={"abuse_types": "Abuse Types"}).to_csv(data / "referrals.csv", index=False)
    return {"tables": {"referrals": {"columns": {"Abuse Types": "abuse_types"}, "values": {
        "substance_misuse": {"Yes": True, "No": False},
        "abuse_types": {"separator": ",", "values": {"Coercive Control": "coercive_control"}}}}}}


def _render(tmp_path, case):
    data = tmp_path / "data"
    generate(data, referrals=case["referrals"], sites=case["sites"], seed=case["seed"], scenario=case["scenario"])
    cmap = _as_provider_export(data) if case.get("mapped") else None
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump({"alpha": case["alpha"]}))
    periods = None
    if case["period"] == "month":
        periods = [("2024-03-01", "2024-03-31")]
    elif case["period"] == "year":
        periods = [("2023-04-01", "2024-03-31")]
    site_ids = [f"S{i:02d}" for i in range(1, case["sites"] + 1)]
    sites = site_ids[: max(1, len(site_ids) // 2)] if case["subset"] else None
    out = tmp_path / "out"
    paths = render_release(data, out, sites=sites, periods=periods, plan_path=plan, threshold=case["threshold"],
                           progress=False, jobs=1, column_map=cmap)
    return out, paths


def _check(tmp_path, case):
    out, paths = _render(tmp_path, case)
    assert paths and all(p.exists() for p in paths)
    res = audit_release(out, threshold=case["threshold"])
    assert res.ok, res.text(limit=5)
    print(f"case rendered and passed: {case}", flush=True)  # the sweep's progress, seen with pytest -s
    t = case["threshold"]
    for r in decode_release(out, threshold=t):
        for key, tab in r.tables.items():
            for j, c in enumerate(tab.columns):
                if c == "n" or str(c).startswith("n_"):
                    for row in tab.rows:
                        v = row[j].replace(",", "").strip()
                        # every count from 1 to T-1 is withheld (issue 26 f: throughput too); a count of T or
                        # more can round to a multiple of 5 below T (7 -> 5 at threshold 7)
                        assert not (v.isdigit() and 0 < int(v) < t and int(v) % 5), (r.file, key, c, v)


_SETTINGS = {"deadline": None, "derandomize": True, "suppress_health_check": [HealthCheck.function_scoped_fixture,
                                                                                  HealthCheck.too_slow]}


@settings(max_examples=1, **_SETTINGS)
@given(case=cases(max_referrals=300))
def test_a_generated_export_renders_and_passes_the_audit(tmp_path_factory, case):
    _check(tmp_path_factory.mktemp("case"), case)


@pytest.mark.slow
@settings(max_examples=25, **_SETTINGS)
@given(case=cases(max_referrals=5000))
# found by this sweep: a leak only the workbook showed refused the release, and a separated response model
# crashed the wave model
@example(case={"referrals": 1156, "sites": 5, "seed": 5, "scenario": "no_effect", "threshold": 5, "alpha": 0.01,
               "period": "month", "subset": False, "mapped": False})
def test_generated_exports_render_and_pass_the_audit_sweep(tmp_path_factory, case):
    _check(tmp_path_factory.mktemp("case"), case)


def test_one_month_period_renders(tmp_path):
    """A one-month --period crashed with KeyError: 'fit' (safety.change_views); it must render."""
    _check(tmp_path, {"referrals": 400, "sites": 2, "seed": 3, "scenario": "default", "threshold": 10,
                      "alpha": 0.05, "period": "month", "subset": False, "mapped": False})


def test_a_mapped_provider_export_renders(tmp_path):
    """Recoded Yes/No words and a multi-select column through --column-map: the release renders, passes."""
    _check(tmp_path, {"referrals": 150, "sites": 2, "seed": 7, "scenario": "default", "threshold": 10,
                      "alpha": 0.1, "period": None, "subset": False, "mapped": True})


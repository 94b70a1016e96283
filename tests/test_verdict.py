"""Verdict wording (dapp_eval.commissioner.verdict) and glossary: fixed inputs, exact expected sentences."""

import pandas as pd
import pytest

from dapp_eval import formatting
from dapp_eval.commissioner import glossary, verdict


def fig(code, value, lo=None, hi=None, k=None, n=None, note="", **extra):
    return {"code": code, "value": value, "ci_lower": lo, "ci_upper": hi, "n_numerator": k, "n_denominator": n,
            "note": note, **extra}


SYNTHETIC_LIKE = pd.DataFrame([
    fig("referrals", 2000, k=2000), fig("starts", 922, k=922), fig("completions", 632, k=632),
    fig("completion_rate", 0.81198, 0.78390, 0.83680, 632, 922),
    fig("reliable_risk_reduction", 0.287926, 0.254343, 0.324015, 186, 646),
    fig("partner_feels_safer", 0.688623, 0.61, 0.75, 115, 167),
    fig("police_before", 0.632075, 0.5778, 0.6832, 201, 318), fig("police_after", 0.254717, 0.21, 0.3053, 81, 318),
    fig("cost_per_referral", 288.65, n=1947), fig("cost_per_completion", 933.55, n=602),
])


def test_verdict_paragraphs_on_fixed_inputs():
    v = verdict.verdict_paragraphs(SYNTHETIC_LIKE).set_index("topic")["text"]
    assert list(v.index) == ["in_short", "engagement", "risk", "safety", "police", "cost"]
    assert v["in_short"] == (
        "In short: about 8 in 10 of the people who started completed the programme; risk fell reliably for about 3 "
        "in 10 of those assessed twice; roughly 7 in 10 (ex-)partners who answered both surveys felt safer; police "
        "involvement in the year after leaving was lower than in the year before referral (63%, then 25%). Compared "
        "with what: only with the same people before the programme. There is no comparison group, so these are "
        "changes seen alongside the programme, not proof that it caused them. How sure: the completion, risk "
        "reduction and police involvement figures are based on enough people to be fairly precise; the partner "
        "safety figure is less certain.")
    assert v["engagement"] == (
        "Completion: about 8 in 10 people who started completed the programme within its planned length plus 4 "
        "weeks (81%, 95% CI 78% to 84%; 922 people).")  # the rate alone: no ratio of counts beside it (issue 29)
    assert v["risk"] == (
        "Risk: a reliable reduction in risk for about 3 in 10 of those assessed twice (29%, 95% CI 25% to 32%; "
        "646 people).")  # "no comparison group" is said once, in the opening paragraph
    # partner CI 61% to 75% is 14 points wide: "roughly", with the range
    assert v["safety"].startswith("Safety: roughly 7 in 10 (ex-)partners who answered both")
    assert "consistent with anything from 61% to 75%" in v["safety"]
    assert v["police"].startswith("Police involvement fell from 63% in the year before referral to 25% "
                                  "(95% CI 21% to 31%) in the year after leaving the programme, among the 318 people with a full "
                                  "year of linked records.")
    assert "would have happened anyway, and there is no comparison group" in v["police"]
    assert v["cost"].startswith("Cost: over the contract period the programme cost £934 per completion and £289 "
                                "per referral")
    assert "No benchmark was supplied" in v["cost"] and "--comparators" in v["cost"]
    for text in v:
        assert formatting.find_code_names(text) == [], text
        assert formatting.find_raw_proportions(text) == [], text


def test_comparison_group_drops_the_happened_anyway_caveat():
    v = verdict.verdict_paragraphs(SYNTHETIC_LIKE, comparison_group=True).set_index("topic")["text"]
    assert "no comparison group" not in v["risk"]
    assert "no comparison group" not in v["police"]
    assert "matched comparison group" in v["in_short"]


@pytest.mark.parametrize("lo, hi, n, word", [
    (0.25, 0.32, 646, "firm"), (0.20, 0.30, 200, "firm"), (0.20, 0.36, 100, "rough"), (0.10, 0.50, 50, "very uncertain"),
    (0.25, 0.32, 20, "very uncertain"), (None, None, 100, "no interval"),
])
def test_certainty_keyed_on_interval_width_and_n(lo, hi, n, word):
    assert verdict.certainty({"ci_lower": lo, "ci_upper": hi, "n_denominator": n}) == word


def test_small_site_is_worded_as_uncertain_with_the_all_sites_value_beside_it():
    h = pd.DataFrame([fig("reliable_risk_reduction", 0.30, 0.12, 0.56, 6, 20, all_sites_value=0.288)])
    v = verdict.verdict_paragraphs(h).set_index("topic")["text"]
    assert v["in_short"].endswith("How sure: the risk reduction figure is uncertain (few people).")
    text = v["risk"]
    assert text == ("Risk: a reliable reduction in risk for perhaps 3 in 10 of those assessed twice (30%, 95% CI "
                    "12% to 56%; 20 people). There "
                    "are too few people to be sure: anything from 12% to 56% is consistent with the data. All "
                    "sites: 29%.")


def test_comparators_quoted_with_their_source():
    h = pd.DataFrame([fig("completion_rate", 0.81, 0.78, 0.84, 632, 922,
                          comparators="62% (Evaluation A, 2019)")])
    v = verdict.verdict_paragraphs(h).set_index("topic")["text"]
    assert v["engagement"].endswith("Published figure for comparison: 62% (Evaluation A, 2019).")
    assert "and with the published figures supplied" in v["in_short"]


def test_a_missing_figure_says_why():
    h = pd.DataFrame([fig("partner_feels_safer", float("nan"), note="no (ex-)partner answered both surveys")])
    v = verdict.verdict_paragraphs(h)
    assert v["topic"].tolist() == ["safety"]  # nothing to say in short
    assert v["text"].iloc[0] == "Safety: not available (no (ex-)partner answered both surveys)."
    with pytest.raises(ValueError, match="headline_figures"):
        verdict.verdict_paragraphs(pd.DataFrame({"x": [1]}))


def test_mirabal_measures_can_and_cannot():
    mm = verdict.mirabal_measures(SYNTHETIC_LIKE)
    assert mm["measure_no"].tolist() == [1, 2, 3, 4, 5, 6]
    assert (mm["can_say"].str.len() > 0).all() and (mm["cannot_say"].str.len() > 0).all()
    m3 = mm.set_index("measure_no").loc[3, "can_say"]
    assert "69% of (ex-)partners who answered both surveys felt safer (167 people)" in m3
    assert "25% had police involvement in the year after leaving (318 people)" in m3
    for col in ("measure", "can_say", "cannot_say"):
        for text in mm[col]:
            assert formatting.find_code_names(text) == [], text


def test_glossary_terms_plain_and_complete():
    g = glossary.glossary()
    terms = set(g["term"])
    for needed in ("Competing risks", "Reliable change", "Confidence interval (CI)", "MARAC", "DASH",
                   "Suppression", "Statistical process control (SPC)"):
        assert needed in terms
    assert g["term"].tolist() == sorted(g["term"], key=str.lower)
    for text in g["definition"]:
        assert formatting.find_code_names(text) == [], text
    with pytest.raises(KeyError, match="not in the glossary"):
        glossary.glossary(["Bootstrap"])

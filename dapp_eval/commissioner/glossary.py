"""Plain-English glossary of the terms a commissioner meets in a report.

Data, not prose in a template: the report prints :func:`glossary` at the end,
and a test checks that every term is defined in plain words (no code names).

Examples
--------
>>> g = glossary(["MARAC", "DASH"])
>>> g["term"].tolist()
['DASH', 'MARAC']
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

__all__ = ["GLOSSARY", "TECHNICAL_TERMS", "glossary", "terms_used"]

GLOSSARY: dict[str, str] = {
    "Aalen-Johansen estimator": "The method behind the cumulative incidence curves: at each week it works out the "
                                "share of people who have left in each way (completed, dropped out, moved away), "
                                "counting people still attending only for as long as they have been followed.",
    "Censoring": "When a person's follow-up stops before the outcome could be seen (for example, still attending "
                 "when the data were taken), they count for the time they were followed, not as a failure.",
    "Clustered standard errors": "Several records can come from the same person (or site), so they are not "
                                 "independent. 'Clustered' or 'robust' intervals allow for this, and are wider "
                                 "than intervals that treat every record as a separate person.",
    "Complete cases": "An analysis of only the people with every measurement it needs (for example, a risk score "
                      "at intake and at exit). It can mislead if those without them differ from those with them.",
    "Contract period": "The dates the contract covers, set for each site in its data. Costs are for this "
                       "period, so 'starts in the contract period' and 'completions in the contract period' are "
                       "the counts costs are divided by; they differ from the counts of the whole data.",
    "Cost per completion": "The programme's cost over the contract period divided by the people who completed in "
                           "that period. It is a cost per person finishing, not a cost per successful outcome.",
    "Cost per referral": "The programme's cost over the contract period divided by the referrals received in that "
                         "period.",
    "Cost per start": "The programme's cost over the contract period divided by the people who started the "
                      "programme in that period.",
    "Cost per outcome (illustration)": "The programme's cost over the contract period divided by the number of "
                                       "people with a given outcome (a reliable reduction in risk, or an "
                                       "(ex-)partner feeling safer). An illustration only: the people counted "
                                       "are not limited to the contract period, the outcome is not known for "
                                       "everyone, and without a comparison group some of it would have happened "
                                       "anyway.",
    "Cost per targeted completion": "The programme's yearly cost divided by the yearly number of completions the "
                                    "contract targets: what a completion would cost if the target were met. "
                                    "Compare it with the cost per completion actually achieved.",
    "Benchmark (comparator)": "A published figure from another programme or a national source, shown beside the "
                              "programme's own with its source and year. None is shipped: a commissioner adds them "
                              "in a comparators file (dapp-eval report --comparators comparators.yaml).",
    "Period cost": "The programme's yearly cost times the length of the contract period in years: what the "
                   "costs per referral, start, completion and outcome divide.",
    "Cox model": "A model of how quickly something happens (here, leaving the programme) that compares groups "
                 "through hazard ratios while allowing for other characteristics. 'Cause-specific' means one way "
                 "of leaving at a time, with the other ways ending a person's follow-up.",
    "Effect size (Cohen's d, Hedges' g)": "A change or difference expressed in units of the score's spread, so "
                                         "that it can be compared across measures. About 0.2 is usually called "
                                         "small, 0.5 medium and 0.8 large.",
    "Generalised estimating equations (GEE)": "A way of fitting a model when several answers come from the same "
                                              "person, so they are not independent; its intervals allow for "
                                              "that. 'Unweighted' means every answer counts the same, with no "
                                              "allowance for those who did not answer.",
    "Gray's test": "A test of whether the cumulative incidence of one way of leaving (such as completing) differs "
                   "between groups, allowing for the other ways of leaving.",
    "Hazard ratio": "How much faster (above 1) or slower (below 1) something happens in one group than in "
                    "another, at any point in time. 1 means no difference.",
    "Holm adjustment": "When several outcomes are tested at once, some will look significant by chance. Holm's "
                       "method raises the bar for each test in turn, so that the chance of any false alarm "
                       "across the set stays at the level the analysis plan sets.",
    "Kaplan-Meier estimator": "A standard way of estimating the share of people still in the programme over "
                              "time. It treats people who completed as if they had simply stopped being "
                              "followed, so it overstates dropout; the report shows it only as a check, and its "
                              "completion rate uses cumulative incidence instead.",
    "Log-rank test": "A test of whether something (such as dropping out) happens at a different pace in two or "
                     "more groups over the whole follow-up.",
    "McNemar test": "A test of whether the share answering 'yes' changed between two times, using only the "
                    "people who answered both times. 'Exact' means its chance is worked out exactly, which suits "
                    "small numbers.",
    "Missing at random": "An assumption about people without a measurement: that, once what is known about them "
                         "is allowed for, they are like those with it. 'Missing not at random' drops that "
                         "assumption; the tipping point shows how far it must fail to change the conclusion.",
    "Mixed model": "A model for repeated measurements of the same people (risk scores at several times) that "
                   "allows each person their own starting level, and uses everyone with at least one score.",
    "Multiple imputation": "Filling in each missing score many times with plausible values worked out from what "
                           "is known about the person, analysing each filled-in set, and combining the results "
                           "so the uncertainty of the guesses is counted.",
    "Newcombe interval": "A confidence interval for the difference between two percentages (for example this "
                         "year and last), built from each one's Wilson interval.",
    "p-value": "The chance of a difference at least this large if there were truly none. Below the level the "
               "analysis plan sets (usually 5 in 100), the difference is called beyond chance.",
    "Poisson and negative binomial models": "Models for counts of events (such as police call-outs) over a "
                                            "length of time. They give a rate ratio; the negative binomial "
                                            "allows for some people having many more events than others.",
    "Proportional hazards": "The assumption of a Cox model that one group's hazard ratio against another is "
                            "the same at every point in time. The Schoenfeld residual test checks it.",
    "Rate ratio": "One rate divided by another (for example incidents per person-year after leaving divided by "
                  "before). Below 1 means fewer events; 1 means no change.",
    "Restricted mean time": "The average time people spend in the programme up to a fixed cut-off (for example "
                            "the planned length), allowing for those still attending.",
    "Sensitivity analysis": "The same question answered under different assumptions (for example about people "
                            "with a missing score), to see whether the answer depends on them.",
    "Tipping point": "How much worse the people without an exit score would have to have done than those with "
                     "one for the conclusion to change. A large tipping point means a robust conclusion.",
    "Weighting for non-response": "Counting each answer more or less so that the people who answered stand for "
                                  "everyone who should have, based on what is known about those who did not "
                                  "answer.",
    "Wilson interval": "A confidence interval for a percentage that behaves well with small numbers and with "
                       "percentages near 0% or 100%.",
    "Adverse childhood experiences (ACEs)": "Harmful experiences before the age of 18, such as abuse, neglect or "
                                            "living with domestic abuse. Four or more are linked to poorer health "
                                            "and to using or suffering abuse later in life.",
    "Age band": "Age at referral in bands (under 18, 18 to 24, 25 to 34, 35 to 44, 45 to 54, 55 and over), so that "
                "no one's exact age is shown.",
    "Child protection plan": "A plan agreed at a child protection conference when a child is at risk of significant "
                             "harm. A child in need plan is the lower level of children's services support; a "
                             "looked-after child is in the care of the council.",
    "Equality monitoring": "Counting referrals, starts and completions by protected characteristic (sex, age, "
                           "ethnicity, disability, religion or belief, sexual orientation) so that a public body can "
                           "show its service reaches and serves every group, as the public sector equality duty "
                           "requires. Small groups are merged, never dropped.",
    "Partner support service": "Support for the (ex-)partners of people on a programme (safety planning, advocacy, "
                               "an IDVA or support worker), which the Home Office standards require to run "
                               "alongside every perpetrator programme.",
    "Proven reoffending": "An offence committed within a year that is proved by a caution or conviction within a "
                          "further six months, as the Ministry of Justice's Justice Data Lab counts it: the rate "
                          "(share who reoffend), the frequency (offences per person) and the time to the first "
                          "offence. It is reported only for groups of 60 or more.",
    "Rating of change": "A structured answer on a five-point scale, from 'much worse' to 'much better', given by the "
                        "person, the (ex-)partner or the referring agency. Only the rating is kept, never free text.",
    "Utilisation": "Programme places filled as a share of the places offered in a quarter. High utilisation with a "
                   "waiting list means people wait because the programme is full.",
    "Case mix": "The kinds of people a site works with (for example how risky they were at referral, or who "
                "referred them). Sites with different case mix can have different results for reasons that have "
                "nothing to do with how good the programme is.",
    "Comparison group": "People like those on the programme who did not take part. Without one, a change seen "
                        "after the programme may have happened anyway.",
    "Competing risks": "When people can leave a programme in more than one way (completing it, dropping out, "
                       "moving away), each way of leaving stops the others from happening. Rates are worked out "
                       "so that each way of leaving is counted correctly, and people still attending are followed "
                       "rather than counted as failures.",
    "Completion rate": "The estimated share of people who started who completed within the planned number of "
                       "weekly sessions plus 4 weeks. It allows for people still attending when the data were "
                       "taken. This is the completion figure to quote.",
    "Confidence interval (CI)": "The range of values that the data are consistent with. A {level} interval "
                                "(the level the analysis plan sets) is worked out so that, if the programme "
                                "were run again with similar people, ranges made this way would hold the true "
                                "figure {times} times in 100. A wide interval means few people and an "
                                "uncertain figure.",
    "Cumulative incidence": "The share of people who have had an outcome (such as completing) by a given time, "
                            "allowing for those who left in other ways and those still attending.",
    "DASH": "The SafeLives Domestic Abuse, Stalking and Harassment risk checklist: 24 yes/no questions asked of "
            "the person at risk. A score of 14 or more is high risk and leads to a MARAC referral; 10 to 13 is "
            "medium risk.",
    "Funnel plot": "A chart of each site's rate against its number of people, with limits that narrow as the "
                   "number grows. A site outside the limits differs from the average by more than chance would "
                   "explain.",
    "MARAC": "Multi-Agency Risk Assessment Conference: a regular local meeting where police, probation, health, "
             "children's services and specialist services share information on the highest-risk domestic abuse "
             "cases and agree a safety plan.",
    "Percentage points": "The difference between two percentages: from 60% to 25% is a fall of 35 percentage "
                         "points (not 35%).",
    "Process limits": "On a statistical process control chart, the lines above and below the average within "
                      "which quarter-to-quarter results normally vary. A result outside them is unusual.",
    "Project Mirabal": "The UK's reference evaluation of community perpetrator programmes (Kelly and Westmarland, "
                       "2015), which set out six measures of success, from safety and freedom from abuse to "
                       "children feeling heard and cared about.",
    "Regression to the mean": "Referral often follows a crisis, when incidents are at a peak. Many people's "
                              "situation would settle afterwards without any programme, so part of a fall after "
                              "referral would have happened anyway.",
    "Reliable change": "A change in a score larger than the score's own measurement error could produce "
                       "(the Jacobson-Truax method). A 'reliable reduction in risk' is a fall in the risk score that is "
                       "unlikely to be just noise.",
    "Special-cause variation": "On a statistical process control chart, a pattern unlikely to arise from the "
                               "usual variation: a point outside the limits, 7 quarters in a row on one side of "
                               "the average, 6 quarters in a row rising or falling, or 2 of 3 quarters close to "
                               "a limit. It is a reason to ask what changed, not proof of a cause.",
    "Standardised difference": "How far apart two groups are on a characteristic, in units of its spread, so "
                               "different characteristics can be compared. Above 0.1 is usually taken as a real "
                               "difference in case mix.",
    "Statistical process control (SPC)": "Charts of a measure over time (here by quarter) with an average line "
                                         "and process limits, following NHS England's 'Making Data Count', to "
                                         "tell ordinary ups and downs from real change.",
    "Suppression": "Hiding small numbers (below 10 by default) and any number from which a hidden one could be "
                   "worked out, so that no person can be identified. Shown as '<10' or '[c]'.",
}


#: Every method or technical term a page may use: the words that show it is used (a regular expression, matched
#: ignoring case) and the glossary entry that defines it. A term on this list is either defined in the glossary
#: or absent from the pages: tests/test_commissioner_release.py renders pages and checks (see :func:`terms_used`).
TECHNICAL_TERMS: dict[str, str] = {
    r"Aalen[- ]Johansen": "Aalen-Johansen estimator",
    r"\bcensor(?:ed|ing|s)?\b": "Censoring",
    r"\bclustered\b|\brobust \(by person\)|robust standard error": "Clustered standard errors",
    r"\bcomplete[- ]cases?\b": "Complete cases",
    r"\bcontract period\b": "Contract period",
    r"\bcost per completion\b": "Cost per completion",
    r"\bcost per referral\b": "Cost per referral",
    r"\bcost per start\b": "Cost per start",
    r"\bcost per target(?:ed)? completion\b": "Cost per targeted completion",
    r"\bcost per (?:person with|partner|\(ex-\)partner|outcome)": "Cost per outcome (illustration)",
    r"\bperiod cost\b": "Period cost",
    r"\bbenchmark|\bcomparators? file\b": "Benchmark (comparator)",
    r"\bCox\b": "Cox model",
    r"Cohen's d|Hedges' g|\beffect size": "Effect size (Cohen's d, Hedges' g)",
    r"\bGEE\b|generali[sz]ed estimating equation": "Generalised estimating equations (GEE)",
    r"\bGray's test": "Gray's test",
    r"\bhazard ratio": "Hazard ratio",
    r"\bHolm\b": "Holm adjustment",
    r"Kaplan[- ]Meier": "Kaplan-Meier estimator",
    r"\blog-rank\b": "Log-rank test",
    r"McNemar": "McNemar test",
    r"\bmissing (?:not )?at random\b": "Missing at random",
    r"\bmixed(?:-effects)? model": "Mixed model",
    r"\bmultiple imputation\b|\bimputed\b": "Multiple imputation",
    r"\bNewcombe\b": "Newcombe interval",
    r"\bp-values?\b": "p-value",
    r"\bPoisson\b|\bnegative binomial\b": "Poisson and negative binomial models",
    r"\bproportional[- ]hazards\b|\bSchoenfeld\b": "Proportional hazards",
    r"\brate ratios?\b": "Rate ratio",
    r"\brestricted mean\b|\bRMST\b": "Restricted mean time",
    r"\bsensitivity analys[ie]s\b": "Sensitivity analysis",
    r"\btipping point\b": "Tipping point",
    r"\bweight(?:ed|ing) for (?:non-response|attrition)\b|\bweighted estimate": "Weighting for non-response",
    r"\bWilson\b": "Wilson interval",
    r"\bcompeting risks?\b": "Competing risks",
    r"\bcumulative incidence\b": "Cumulative incidence",
    r"Jacobson[- ]Truax|Jacobson and Truax|\breliable (?:change|reduction)\b": "Reliable change",
    r"\bstandardi[sz]ed (?:mean )?difference|\bSMD\b": "Standardised difference",
    r"\bregression to the mean\b": "Regression to the mean",
    r"\bfunnel plot": "Funnel plot",
    r"\bSPC\b|statistical process control": "Statistical process control (SPC)",
    r"\bprocess limits?\b": "Process limits",
    r"\bspecial[- ]cause\b": "Special-cause variation",
    r"\bconfidence intervals?\b|\b\d+% CI\b": "Confidence interval (CI)",
    r"\bMARAC\b": "MARAC",
    r"\bDASH\b": "DASH",
    r"\bMirabal\b": "Project Mirabal",
    r"\bpercentage points?\b": "Percentage points",
    r"\bcase[- ]mix\b": "Case mix",
    r"\bcomparison group\b": "Comparison group",
    r"\bsuppress(?:ed|ion)\b": "Suppression",
    # data contract version 2 (issue 32)
    r"\badverse childhood experiences\b|\bACEs\b": "Adverse childhood experiences (ACEs)",
    r"\bage bands?\b": "Age band",
    r"\bchild protection plan|\bchild in need\b|\blooked[- ]after\b": "Child protection plan",
    r"\bequality (?:monitoring|duty)\b|\bequalities monitoring\b": "Equality monitoring",
    r"\bpartner support\b": "Partner support service",
    r"\bproven reoffending\b|\bJustice Data Lab\b": "Proven reoffending",
    r"\bratings? of change\b": "Rating of change",
    r"\butilisation\b": "Utilisation",
}
_TERM_RES = [(re.compile(p, re.IGNORECASE), term) for p, term in TECHNICAL_TERMS.items()]


def terms_used(text: str) -> list[str]:
    """The glossary entries of the technical terms :data:`TECHNICAL_TERMS` finds in ``text``, in glossary order.

    Examples
    --------
    >>> terms_used("Completion (Aalen-Johansen; 95% CI 64% to 77%), compared with a Holm-adjusted p-value")
    ['Aalen-Johansen estimator', 'Confidence interval (CI)', 'Holm adjustment', 'p-value']
    """
    found = {term for rx, term in _TERM_RES if rx.search(text)}
    return sorted(found, key=str.lower)


def glossary(terms: Iterable[str] | None = None, *, level: str = "95%") -> pd.DataFrame:
    """The glossary as a table (``term``, ``definition``), in alphabetical order.

    Parameters
    ----------
    terms : iterable of str, optional
        Only these terms (each must be in :data:`GLOSSARY`).
    level : str, default '95%'
        The plan's interval level (``AnalysisPlan.level``): definitions that name it say it ('90%' at alpha 0.1).

    Examples
    --------
    >>> len(glossary()) == len(GLOSSARY)
    True
    """
    keys = list(GLOSSARY) if terms is None else list(terms)
    unknown = [t for t in keys if t not in GLOSSARY]
    if unknown:
        raise KeyError(f"not in the glossary: {unknown}; known: {', '.join(GLOSSARY)}")
    keys = sorted(keys, key=str.lower)
    if not (level.endswith("%") and 0 < float(level[:-1]) < 100):
        raise ValueError(f"level must be a percentage such as '95%', got {level!r}")
    times = level[:-1]
    return pd.DataFrame({"term": keys, "definition": [GLOSSARY[k].replace("{level}", level).replace("{times}", times)
                                                      for k in keys]})

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

from collections.abc import Iterable

import pandas as pd

__all__ = ["GLOSSARY", "glossary"]

GLOSSARY: dict[str, str] = {
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
                       "(Jacobson and Truax). A 'reliable reduction in risk' is a fall in the risk score that is "
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

"""Methods and caveats: how each figure was made and what it cannot say, in plain language."""

from __future__ import annotations

TITLE = "Methods and caveats"
PLACEMENT = "annex"


def build(page) -> dict:
    items = [
        ("Funnel", "Each referral's stage is derived from its dates and exit reason (never from a status "
         "column), so every referral sits in exactly one stage and the counts add up."),
        ("Completion rate", "The completion rate is the cumulative incidence of completion at the planned "
         f"programme length plus a grace period of {page.plan['attrition']['grace_weeks']} weeks, estimated "
         "with the Aalen-Johansen method: dropping out, exclusion and other exits are competing outcomes, and "
         "people still attending are followed up to the extract date. A plain ratio of completions to starts "
         "would count people still attending as failures. "
         + ("Because dropping out is recorded weeks after the last session (completion within days), everyone is "
            "followed only to the extract date less the recording lag of the analysis plan (by default the 95th "
            "centile of the recording delay in the data); otherwise people who had stopped coming would still "
            "count as attending and the rate would be too high."
            if page.plan["attrition"].get("recording_lag") else
            "The plan sets no recording lag: people who stopped coming shortly before the extract date may "
            "still count as attending, which makes the rate slightly too high.")),
        ("Dropout curves", "A Kaplan-Meier curve that treats completion as censoring overstates dropout; it is "
         "shown only beside the cumulative incidence and labelled as such."),
        ("Waiting times", "Waits are competing-risks estimates: people still waiting at the extract date are "
         "counted as still waiting (censored), never dropped and never given a zero wait."),
        ("Risk change", "DASH is completed with the (ex-)partner: it describes risk to that person, not a trait "
         "of the person on the programme. Change is paired within the same instrument and informant. A reliable "
         "change (Jacobson-Truax) is a change larger than measurement error alone would produce; the "
         "reliability and standard deviation used are shown with their source."),
        ("Missing scores", "People without an exit score are not ignored: complete-case, inverse-probability "
         "weighted and multiple-imputation estimates are shown side by side, each with the assumption it makes, "
         "and a tipping-point analysis shows how different the missing scores would have to be to change the "
         "conclusion."),
        ("Who is compared", "There is no control group. Completers are compared with non-completers only to "
         "describe them: people who complete differ from those who leave (see Table 1), so the difference in "
         "their outcomes is not an effect of the programme."),
        ("Regression to the mean", "Referral usually follows a crisis. Police call-outs in the year before "
         "referral are therefore unusually high, and part of any fall afterwards would have happened anyway."),
        ("Repeat police contacts", "Police contacts recur, so after leaving every contact is counted, not only the "
         "first: the mean cumulative number per person (mean cumulative function) among the people still "
         "followed, with intervals that allow for one person's contacts being linked. The before/after rate "
         "ratios use standard errors clustered by person, because each person is counted in both windows."),
        ("Partner reports and police records", "Outcomes reported by (ex-)partners and outcomes from police "
         "records are shown side by side and never combined; effects on police records tend to look larger."),
        ("Partner surveys", "Each wave's percentages are of the people who answered that wave; the number who "
         "answered is shown. Because people whose (ex-)partner dropped out answer less often, a paired analysis "
         "of those who answered both waves and a model weighted for non-response are shown beside them."),
        ("Multiple outcomes", "One primary outcome per domain is fixed in the analysis plan; the other outcomes "
         "of the same domain are secondary and their p-values are Holm-adjusted (the column "
         "'p-value (adjusted for several outcomes, Holm)'). Model coefficients, band summaries and alternative views of the primary outcome are "
         "descriptive and not adjusted."),
        ("Small numbers", f"Counts from 1 to {page.dc.threshold - 1} describing people are shown as "
         f"'{page.dc.marker}' (so is a 0 that would say 'none' of a group of fewer than {page.dc.zero_minimum} "
         "people, or of any group in a release of several sites), and every other count is rounded to the nearest "
         f"{page.dc.base}, the same way in "
         "every table and report (the method OpenSAFELY uses), so no hidden count can be worked out from a total, "
         "another site's report or another period. Percentages of counts are computed from the rounded counts; "
         f"values computed from a hidden count, and counts that would give one back, are shown as '[c]'; models with fewer than {page.dc.threshold} "
         f"events are not shown. Curves stop where fewer than {page.dc.threshold} people remain at risk and "
         "numbers at risk are rounded. Referrals, starts and completions by quarter: a quarter of a handful of "
         "people is merged with a neighbouring quarter, and in each count the largest quarter is the participant "
         "flow's total less the other quarters, so that the quarters add up to the flow exactly. Before a release "
         "is written, a "
         "built-in attacker (dapp-eval audit) tries to work back every hidden count and stops the release if it "
         "can."),
    ]
    if page.plan.trends.change_date:
        items.append(("Before and after a change", "The analysis plan names a change date "
                      f"({page.plan.trends.change_date}). Each quarterly series is fitted with a line before and "
                      "a new level and trend from the first quarter under the change (segmented regression), with "
                      "standard errors that allow for neighbouring quarters being alike (Newey-West). The date was "
                      "fixed before the results were seen; a change at that date does not show that the change "
                      "caused it."))
    return {"items": items}

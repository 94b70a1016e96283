"""Numbers, money, dates and labels in the words a commissioner reads.

Data- and analysis-free helpers: every function takes a plain value and
returns text, so the report, the CSV files and the workbook can show a figure
identically. Missing values (``None``, NaN, ``pd.NA``) become ``"n/a"``; a
value that disclosure control has already replaced by text (``"<10"``,
``"[c]"``) passes through unchanged.

:data:`PLAIN_NAMES` maps every code identifier used as a column or label in a
published table to plain words (:func:`plain_name`, :func:`plain_columns`);
:func:`find_code_names` scans visible text for ``snake_case`` tokens that
slipped through, for the report tests.

Examples
--------
>>> percent(0.8012), gbp(1234.4), long_date("2023-04-01"), p_value(0.0002)
('80%', '£1,234', '1 April 2023', '< 0.001')
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Iterable

__all__ = [
    "PLAIN_NAMES", "P_FLOOR", "count", "format_p", "csv_header_rows", "code_row_below", "read_published_csv", "find_code_names", "find_raw_proportions", "format_value", "gbp", "in_n_in_10",
    "long_date", "p_value", "percent", "percentage_points", "plain_columns", "plain_name", "plain_table",
    "plain_text", "sig", "weeks",
]

NA_TEXT = "n/a"


def _missing(x) -> bool:
    if x is None:
        return True
    try:
        return bool(x != x)  # NaN, pd.NA raises TypeError in bool() -> handled below
    except TypeError:
        return True


def _number(x) -> float | None:
    """``x`` as a float, or None when it is missing or already text (a suppressed cell)."""
    if isinstance(x, str) or _missing(x):
        return None
    return float(x)


def sig(x, digits: int = 2) -> str:
    """``x`` rounded to ``digits`` significant digits, with thousands separators.

    Examples
    --------
    >>> sig(0.012345), sig(12345.6, 3), sig(3.14159, 3), sig(0)
    ('0.012', '12,300', '3.14', '0')
    """
    v = _number(x)
    if v is None:
        return NA_TEXT if not isinstance(x, str) else x
    if digits < 1:
        raise ValueError(f"digits must be at least 1, got {digits}")
    if v == 0:
        return "0"
    mag = math.floor(math.log10(abs(v)))
    rounded = round(v, digits - 1 - mag)
    mag = math.floor(math.log10(abs(rounded)))  # 0.999 rounds up to 1.0: one fewer decimal
    decimals = max(digits - 1 - mag, 0)
    return f"{rounded:,.{decimals}f}"


def percent(x, digits: int = 0) -> str:
    """A proportion (0 to 1) as a percentage: ``0.8012 -> "80%"``.

    Examples
    --------
    >>> percent(0.8012), percent(0.8012, 1), percent(None), percent("<10")
    ('80%', '80.1%', 'n/a', '<10')
    """
    v = _number(x)
    if v is None:
        return NA_TEXT if not isinstance(x, str) else x
    return f"{100 * v:.{digits}f}%"


def percentage_points(x, digits: int = 0) -> str:
    """A difference already in percentage points, signed: ``-37.7 -> "-38 percentage points"``.

    Examples
    --------
    >>> percentage_points(-37.74), percentage_points(4.2, 1)
    ('-38 percentage points', '+4.2 percentage points')
    """
    v = _number(x)
    if v is None:
        return NA_TEXT if not isinstance(x, str) else x
    return f"{v:+.{digits}f} percentage points"


def gbp(x, *, pence: bool = False) -> str:
    """Money in pounds with thousands separators: ``1234.4 -> "£1,234"``.

    Examples
    --------
    >>> gbp(304.3), gbp(562000), gbp(-12.5, pence=True)
    ('£304', '£562,000', '-£12.50')
    """
    v = _number(x)
    if v is None:
        return NA_TEXT if not isinstance(x, str) else x
    sign = "-" if v < 0 else ""
    return f"{sign}£{abs(v):,.{2 if pence else 0}f}"


def count(x) -> str:
    """A count with thousands separators: ``1947 -> "1,947"``.

    Examples
    --------
    >>> count(1947), count(3.0), count("<10")
    ('1,947', '3', '<10')
    """
    v = _number(x)
    if v is None:
        return NA_TEXT if not isinstance(x, str) else x
    if not float(v).is_integer():
        raise ValueError(f"a count must be a whole number, got {x!r}")
    return f"{int(v):,}"


def weeks(x, digits: int = 1) -> str:
    """A duration in weeks: ``8.04 -> "8.0 weeks"``, ``1 -> "1.0 week"``.

    Examples
    --------
    >>> weeks(8.04), weeks(1)
    ('8.0 weeks', '1.0 week')
    """
    v = _number(x)
    if v is None:
        return NA_TEXT if not isinstance(x, str) else x
    return f"{v:.{digits}f} week{'' if v == 1 else 's'}"


def long_date(x) -> str:
    """A date as "1 April 2023" (no leading zero; accepts a date, Timestamp or ISO string).

    Examples
    --------
    >>> long_date("2025-04-30"), long_date(_dt.date(2023, 12, 9))
    ('30 April 2025', '9 December 2023')
    """
    if isinstance(x, str):
        x = _dt.date.fromisoformat(x[:10])
    if _missing(x):
        return NA_TEXT
    return f"{x.day} {x:%B %Y}"


#: p-values below this are shown as "< 0.001"
P_FLOOR = 0.001


def format_p(x: object, *, prefix: bool = False, missing: str = "") -> str:
    """The one p-value format of the package: three decimals, "< 0.001" below 0.001.

    Tables, notebooks, figures and the release all show p-values through this
    function. ``prefix=True`` gives the form for running text and figure
    notes: "p = 0.048", "p < 0.001". A missing value gives ``missing``.

    Examples
    --------
    >>> format_p(0.0482), format_p(0.5), format_p(3.1e-26), format_p(float("nan"))
    ('0.048', '0.500', '< 0.001', '')
    >>> format_p(0.0482, prefix=True), format_p(0.0002, prefix=True)
    ('p = 0.048', 'p < 0.001')
    """
    if x is None or type(x).__name__ == "NAType":  # (pandas' NA: this module imports no pandas at load)
        return missing
    v = float(x)
    if math.isnan(v):
        return missing
    if not 0 <= v <= 1:
        raise ValueError(f"a p-value lies between 0 and 1, got {x!r}")
    if v < P_FLOOR:
        return f"p < {P_FLOOR}" if prefix else f"< {P_FLOOR}"
    return f"p = {v:.3f}" if prefix else f"{v:.3f}"


def p_value(x) -> str:
    """A p-value as a reader sees it (:func:`format_p`): "< 0.001" below 0.001, else three decimals.

    Examples
    --------
    >>> p_value(3.1e-26), p_value(0.0412), p_value(0.5)
    ('< 0.001', '0.041', '0.500')
    """
    v = _number(x)
    if v is None:
        return NA_TEXT if not isinstance(x, str) else x
    return format_p(v)


def in_n_in_10(x) -> str:
    """A proportion as "about N in 10" (nearest tenth); extremes read "fewer than 1 in 10" / "nearly all".

    Examples
    --------
    >>> in_n_in_10(0.288), in_n_in_10(0.81), in_n_in_10(0.04), in_n_in_10(0.97), in_n_in_10(0.5)
    ('about 3 in 10', 'about 8 in 10', 'fewer than 1 in 10', 'nearly all', 'about half')
    """
    v = _number(x)
    if v is None:
        return NA_TEXT if not isinstance(x, str) else x
    if not 0 <= v <= 1:
        raise ValueError(f"a proportion lies between 0 and 1, got {x!r}")
    tenths = math.floor(10 * v + 0.5)  # round half up, so 0.25 reads "about 3 in 10" on every platform
    if tenths == 0:
        return "fewer than 1 in 10"
    if tenths == 10:
        return "nearly all"
    if tenths == 5:
        return "about half"
    return f"about {tenths} in 10"


#: how each format of a headline figure is written (see :func:`format_value`)
FORMATS = ("percent", "count", "gbp", "weeks", "points", "percentage_points")


def format_value(x, fmt: str) -> str:
    """Format ``x`` by a headline figure's ``format`` (percent, count, gbp, weeks, points, percentage_points).

    Examples
    --------
    >>> format_value(0.288, "percent"), format_value(933.55, "gbp"), format_value(-3.61, "points")
    ('29%', '£934', '-3.6 points')
    """
    if fmt == "percent":
        return percent(x)
    if fmt == "count":
        return count(x)
    if fmt == "gbp":
        return gbp(x)
    if fmt == "weeks":
        return weeks(x)
    if fmt == "percentage_points":
        return percentage_points(x)
    if fmt == "points":
        v = _number(x)
        return (NA_TEXT if not isinstance(x, str) else x) if v is None else f"{v:+.1f} points"
    raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")


# ---------------------------------------------------------------------------
# code identifiers -> plain words
# ---------------------------------------------------------------------------

#: every code identifier used as a column or label of a published table, in plain words
PLAIN_NAMES: dict[str, str] = {
    # shared
    "group": "Group", "site_id": "Site code", "site_name": "Site", "programme_model": "Programme model",
    "n": "Number of people", "n_total": "Number in the group", "estimate": "Estimate",
    "ci_lower": "{level} CI lower", "ci_upper": "{level} CI upper", "p_value": "p-value",
    "p_value_holm": "p-value (adjusted for several outcomes, Holm)",
    "p_adjusted": "p-value (adjusted for several outcomes, Holm)", "role": "Role in the analysis plan",
    "note": "Note", "method": "Method", "statistic": "Measure", "measure": "Measure", "label": "Label",
    "outcome": "Outcome", "period": "Period", "unit": "Unit", "level": "Level", "variable": "Characteristic",
    "population": "People included", "test": "Test", "test_statistic": "Test statistic", "df": "Degrees of freedom",
    "quarter": "Quarter", "quarter_start": "Quarter starts", "quarter_end": "Quarter ends",
    "partial": "Part quarter", "from_totals": "Derived from the participant flow",
    "hr": "Hazard ratio", "se": "Standard error", "days_since_start": "Days since starting",
    "days_since_leaving": "Days since leaving", "months_since_leaving": "Months since leaving",
    "n_baseline": "Number at the first survey",
    "n_followup": "Number at the later survey", "prop_baseline": "Share at the first survey",
    "prop_followup": "Share at the later survey", "view": "View", "group_1": "Group", "group_2": "Compared with",
    # funnel / engagement
    "stage": "Stage", "parent": "Part of", "pct_of_referred": "Percentage of referrals",
    "conversion": "Step", "from_stage": "From", "to_stage": "To", "n_stage": "Number reaching the step",
    "n_resolved": "Number with a decision", "n_converted": "Number who went on", "n_open": "Number still open",
    "assessed_of_referred": "Assessed, of those referred", "accepted_of_assessed": "Accepted, of those assessed",
    "started_of_accepted": "Started, of those accepted", "completed_of_started": "Completed, of those who started",
    "n_referrals": "Referrals", "n_starts": "Starts", "n_started": "Starts", "n_completions": "Completions",
    "n_completed": "Completions", "target_completions": "Target completions", "n_carried_over":
        "Referrals carried over from before the period",
    "annual_cost_gbp": "Annual cost", "period_start": "Period starts", "period_end": "Period ends",
    "period_years": "Length of period (years)", "period_cost_gbp": "Cost over the period",
    "cost_per_referral": "Cost per referral", "cost_per_start": "Cost per start",
    "cost_per_completion": "Cost per completion", "target_completions_period": "Target completions in the period",
    "cost_per_target_completion": "Cost per targeted completion",
    "median_reached": "Median reached", "median_observed_events": "Median among those who started",
    # attrition
    "planned_sessions": "Planned weekly sessions", "basis": "Basis", "horizon_days": "Planned length + grace (days)",
    "n_completed_by_horizon": "Completed within planned length + grace",
    "n_followed_to_horizon": "Followed to planned length + grace", "raw_ratio": "Completions per start (plain ratio)",
    "n_recent": "Started too recently to count", "limit_inner_lower": "Inner limit, lower", "limit_inner_upper":
        "Inner limit, upper", "limit_outer_lower": "99.8% limit, lower", "limit_outer_upper": "99.8% limit, upper",
    "position": "Position in the funnel plot", "n_at_risk": "Number still attending",
    # risk
    "mean_from": "Average score at the start", "mean_to": "Average score at the end",
    "mean_change": "Average change in score", "median_change": "Median change in score",
    "cohens_dz": "Effect size (Cohen's d, paired)", "hedges_gav": "Effect size (Hedges' g)",
    "reliably_improved": "Reliable reduction in risk", "reliably_worse": "Reliable increase in risk",
    "no_reliable_change": "No reliable change", "any_improvement": "Any reduction in score",
    "n_paired": "People assessed twice", "emm": "Average score from the model (adjusted)",
    "smd": "Standardised difference", "smd_max_abs": "Largest standardised difference",
    "n_group": "Number in the group", "pct": "Percentage", "mean": "Average", "sd": "Standard deviation",
    # safety
    "wave": "Survey", "n_answered": "Number who answered", "n_missing": "Number who did not answer",
    "n_pairs": "Number who answered both surveys", "n_safer": "Feel safer", "n_same": "Feel the same",
    "n_less_safe": "Feel less safe",
    # follow-up
    "n_with_incident": "Number with any incident", "n_events": "Number of incidents",
    "n_followed": "Number still followed",
    "quarters_before": "Quarters before", "quarters_after": "Quarters from the change",
    "change_quarter": "First quarter under the change",
    "person_years": "Person-years followed", "model": "Model",
    # headlines / site comparison / trends
    "code": "Figure code", "name": "Figure", "value": "Value", "value_text": "Value",
    "n_numerator": "Number counted", "n_denominator": "Out of", "definition": "Definition",
    "how_to_quote": "How to quote it", "format": "Shown as", "scope": "Scope", "case_mix": "Case mix",
    "centre": "Centre line (average)", "lower_limit": "Lower process limit", "upper_limit": "Upper process limit",
    "special_cause": "Unusual variation", "special_cause_text": "Why it is unusual", "chart": "Chart type",
    "lower_2sigma": "Lower warning line (2 sigma)", "upper_2sigma": "Upper warning line (2 sigma)",
    "moving_range": "Change from the previous quarter", "partial_reason": "Why the quarter is partial",
    "outside_limits": "Outside the process limits", "shift": "Shift", "trend": "Trend",
    "two_of_three": "2 of 3 near a limit", "direction": "Direction",
    "all_sites_value": "All sites", "all_sites_value_text": "All sites", "all_sites_ci_lower":
        "All sites, {level} CI lower", "all_sites_ci_upper": "All sites, {level} CI upper",
    "n_all_sites_numerator": "All sites, number counted", "n_all_sites_denominator": "All sites, out of",
    "period_text": "Period", "headline": "Headline figure", "can_say": "What these data can say",
    "cannot_say": "What they cannot say", "topic": "Topic", "comparators": "Published figures for comparison",
    "term": "Term", "higher_is_better": "Higher is better",
    # further columns of the 0.1 report's tables (scanned from reports/report_all_sites.html, 2 December 2026)
    "started_of_referred": "Started, of those referred", "completed_of_referred": "Completed, of those referred",
    "n_event": "Number who reached the step", "n_competing": "Number who left another way",
    "n_censored": "Number still waiting", "median_weeks": "Median wait (weeks)",
    "median_among_those_with_event": "Median wait among those who reached the step",
    "people": "People at the start of the wait", "reached_step": "Reached the step",
    "left_another_way": "Left another way", "still_waiting": "Still waiting",
    "total": "Total (sum of the stages under it)", "resolved": "Resolved at the step (sum)",
    "converted": "Went on (sum)", "open": "Still open (sum)", "waiting": "Waiting (from the flow)",
    "referred": "Referred (from the flow)",
    "n_waiting": "Number waiting", "n_referred": "Referrals", "q1_weeks": "Lower quartile (weeks)",
    "q3_weeks": "Upper quartile (weeks)", "n_over_threshold": "Number waiting longer than the threshold",
    "threshold_weeks": "Threshold (weeks)", "n_participants": "People", "n_sessions_attended": "Sessions attended",
    "n_sessions_denominator": "Sessions counted", "median_attended": "Median sessions attended",
    "attended_of_scheduled": "Attended, of sessions scheduled", "attended_of_planned": "Attended, of sessions planned",
    "std_error": "Standard error", "start_date": "Start date", "age_per_10y": "Age (per 10 years)",
    "wait_per_30d": "Wait before starting (per 30 days)", "programme_model_one_to_one": "One-to-one programme",
    "proportional_hazard_test": "Test of proportional hazards", "n_with_a_score": "People with a score",
    "n_one_score": "People with one score only", "one_score": "One score only",
    "could_improve_reliably": "Could show a reliable reduction",
    "reliably_improved_of_could": "Reliable reduction, of those who could show one",
    "clinically_significant_improvement": "Moved from high to lower risk (clinically significant)",
    "band_from": "Risk level at the start", "band_to": "Risk level at the end",
    "difference_vs_intake": "Difference from intake", "n_observed": "Number observed",
    "tipping_point_delta": "Tipping point", "n_reporting": "Number reporting", "n_yes_baseline":
        "Number reporting it at the first survey", "n_yes_followup": "Number reporting it at the later survey",
    "n_stopped": "Number for whom it stopped", "status_label": "Status", "n_expected": "Number expected",
    "n_of": "Out of", "measure_no": "Measure number", "informed_by": "Informed by", "n_marac": "MARAC referrals",
    "n_repeat": "Repeat MARAC referrals", "n_people_marac": "People referred to MARAC",
    "n_people_repeat": "People with a repeat MARAC referral",
    "n_lookback_incomplete": "Number without a full year of earlier records", "group_label": "Group",
    "did_not_complete": "Did not complete", "not_completed": "Did not complete", "n_rows": "Rows",
    "n_columns": "Columns", "n_in": "Number in",
    # analysis plan settings
    "completion_rate": "Completion rate", "dash_mean_change": "Average change in DASH score",
    "reliable_improvement": "Reliable reduction in risk", "exit_time": "Time of leaving",
    "last_session": "Last attended session", "exit_date": "Exit date", "grace_weeks": "Grace period (weeks)",
    "recording_lag": "Recording lag (days; auto = 95th centile of the delay in recording an exit)",
    "completers_only": "Also give figures among completers only",
    # who a headline figure is about
    "n_population": "People the figure is about",
    "n_population_completed": "Of whom completed the programme", "completers_value": "Completers only",
    "completers_ci_lower": "Completers only: lower limit", "completers_ci_upper": "Completers only: upper limit",
    "completers_n_numerator": "Completers only: number counted", "completers_n_denominator": "Completers only: out of",
    "value_sd": "Standard deviation", "completers_value_sd": "Completers only: standard deviation",
    "n_known": "People whose outcome at the planned length is known",
    "baseline_wave": "First survey", "followup_wave": "Later survey", "window_months": "Follow-up window (months)",
    "proven_lag_months": "Lag for proven outcomes (months)",
    # data contract tables and values (schema.py)
    "risk_assessments": "Risk assessments", "partner_surveys": "Partner surveys", "one_to_one": "One-to-one",
    "partner_support": "Partner support",
    "n_children": "Number of children", "prior_da_police_contact": "Earlier police contact for domestic abuse",
    "substance_misuse": "Substance misuse", "referral_source": "Referred by", "relationship_to_victim":
        "Relationship to the person harmed", "abuse_types": "Types of abuse", "white_british": "White British",
    "white_other": "White other", "childrens_social_care": "Children's social care", "family_court": "Family court",
    "ex_partner": "Ex-partner", "coercive_control": "Coercive control", "declined_assessment": "Declined assessment",
    "awaiting_assessment": "Awaiting assessment", "awaiting_start": "Awaiting start",
    "exited_before_assessment": "Other exit before assessment", "exited_before_start": "Other exit before starting",
    "declined_to_start": "Declined to start", "still_attending": "Still attending", "dropped_out": "Dropped out",
    "other_exit": "Other exit after starting", "moved_away": "Moved away", "follow_up": "Follow-up",
    "physical_violence": "Physical violence", "sexual_violence": "Sexual violence", "weapon_used": "Weapon used",
    "harassment_stalking": "Harassment or stalking", "space_for_action": "Space for action",
    "feels_safe": "Feels safe", "child_exposed": "Children exposed to abuse", "child_protection":
        "Children's services (child protection)", "police_callout": "Police call-out",
    "da_crime": "Domestic abuse crime", "marac_referral": "MARAC referral", "childrens_services":
        "Children's services", "support_offered": "Support offered", "support_accepted": "Support accepted",
    # data contract version 2 (issue 32): equality, strands, districts, children, partner support, reoffending,
    # capacity, waiting list, feedback
    "n_left": "Started and left", "prop_started": "Started, of those no longer waiting",
    "prop_completed": "Completed, of those who left", "age_band": "Age band",
    "n_at_referral": "Number at referral", "n_at_12_months": "Number 12 months later",
    "prop_at_referral": "Share at referral", "prop_at_12_months": "Share 12 months later",
    "plan_at_referral": "Plan at referral", "plan_at_12_months": "Plan 12 months later", "n_yes": "Number counted",
    "median": "Median", "closed_reason": "Why support closed", "cohort": "Cohort",
    "n_reoffenders": "People who reoffended", "n_offences": "Proven offences", "frequency": "Offences per person",
    "offences_per_reoffender": "Offences per person who reoffended",
    "mean_days_to_first": "Average days to the first offence", "groups_run": "Groups run",
    "n_places_offered": "Places offered", "n_places_filled": "Places filled",
    "prop_filled": "Places filled, of those offered", "staff_fte": "Staff (full-time equivalent)",
    "funding_gbp": "Funding", "funder": "Funder", "prop_of_funding": "Share of funding", "risk_band": "Risk band",
    "n_awaiting_assessment": "Awaiting assessment", "n_awaiting_start": "Awaiting a place",
    "median_weeks_waiting": "Median weeks waiting so far", "informant": "Who rated",
    "item": "What was rated", "n_better": "Rated better or much better",
}


def _words(code: str, default=None, level: str = ""):
    """PLAIN_NAMES[code] with its interval level filled in ('95% CI lower'); 'CI lower' when no level is given."""
    words = PLAIN_NAMES.get(code, default)
    if isinstance(words, str) and "{level}" in words:
        return words.replace("{level}", level) if level else words.replace("{level} ", "")
    return words


def plain_name(code: str, level: str = "") -> str:
    """Plain words for a code identifier; an unknown ``snake_case`` code raises, so none reaches a page.

    Text that is not a code (no underscore, e.g. "Site") is returned as it is.

    Examples
    --------
    >>> plain_name("assessed_of_referred"), plain_name("p_value_holm"), plain_name("Site")
    ('Assessed, of those referred', 'p-value (adjusted for several outcomes, Holm)', 'Site')
    """
    if code in PLAIN_NAMES:
        return _words(code, level=level)
    if _CODE_RE.fullmatch(str(code)):
        raise KeyError(f"no plain name for the code {code!r}: add it to dapp_eval.formatting.PLAIN_NAMES")
    return str(code)


def plain_text(text: str) -> str:
    """Replace every known code name in a sentence by its plain words (mid-sentence in lower case).

    For messages written by the analyses (notes, reasons a figure is not available) before a reader
    sees them; an unknown code is left as it is, for :func:`find_code_names` to catch.

    Examples
    --------
    >>> plain_text("no annual_cost_gbp for S2; n_resolved counts cases with a decision")
    'no annual cost for S2; Number with a decision counts cases with a decision'
    """
    def repl(m: re.Match) -> str:
        tok = m.group(0)
        words = _words(tok)
        if words is None:
            return tok
        start = m.start() == 0 or text[:m.start()].rstrip().endswith((".", ";", ":", "!", "?"))
        if start or (len(words) > 1 and words[:2].isupper()):  # keep "MARAC", "DASH" and sentence starts
            return words
        return words[0].lower() + words[1:]

    return _TOKEN_RE.sub(repl, text)


def plain_columns(columns: Iterable[str]) -> list[str]:
    """Plain words for a table's columns, in order (for the header row of a published table).

    Examples
    --------
    >>> plain_columns(["site_name", "n_resolved", "emm"])
    ['Site', 'Number with a decision', 'Average score from the model (adjusted)']
    """
    return [plain_name(c) for c in columns]


def _default_format(c, col) -> str:
    """The format of a column not listed in ``formats``: by its code name, else by its type."""
    import pandas as pd

    if c == "n" or str(c).startswith("n_"):
        return "count"
    if str(c).startswith("p_value") or c == "p_adjusted":
        return "p_value"
    if pd.api.types.is_datetime64_any_dtype(col):
        return "date"
    if pd.api.types.is_bool_dtype(col):
        return "bool"
    return "sig" if pd.api.types.is_numeric_dtype(col) else "text"


def _plain_text_cell(v) -> str:
    if not isinstance(v, str):
        return "" if _missing(v) else str(v)
    return _words(v, plain_text(v))


def _yes_no(v) -> str:
    return "yes" if v is True or v == 1 else "no" if v is False or v == 0 else NA_TEXT


#: cell formatters of :func:`plain_table` beyond :func:`format_value`'s
_CELL_FORMATS = {"text": _plain_text_cell, "date": lambda v: long_date(v), "p_value": lambda v: p_value(v),
                 "bool": _yes_no, "sig": lambda v: sig(v, 3)}


def _plain_cells(col, f: str) -> list[str]:
    fmt = _CELL_FORMATS.get(f)
    return [fmt(v) if fmt else format_value(v, f) for v in col]


def plain_table(df, formats: dict[str, str] | None = None, *, keep_codes: bool = False):
    """A table as a reader sees it: plain-word headers, every cell formatted as text.

    Parameters
    ----------
    df : pandas.DataFrame
    formats : dict, optional
        Column -> format (as :func:`format_value`, plus ``"p_value"``, ``"date"`` and ``"text"``).
        Unlisted columns: ``n`` / ``n_*`` as counts, ``p_value*`` / ``p_adjusted`` as p-values, dates as
        "1 April 2023", other numbers to 3 significant digits, text (including category codes, put
        into plain words) as it is.
    keep_codes : bool
        Keep the code names as a second header row (a two-level column index), for analysts' CSVs.

    Raises
    ------
    KeyError
        For a code column that has no plain words in :data:`PLAIN_NAMES` (add them there).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"site_name": ["North"], "estimate": [0.859], "n_resolved": [1987],
    ...                   "p_value_holm": [2e-5], "referral_source": ["childrens_social_care"]})
    >>> plain_table(t, {"estimate": "percent"}).iloc[0].to_dict()
    {'Site': 'North', 'Estimate': '86%', 'Number with a decision': '1,987', 'p-value (adjusted for several outcomes, Holm)': '< 0.001', 'Referred by': "Children's social care"}
    """
    import pandas as pd

    formats = dict(formats or {})
    out = pd.DataFrame(index=df.index)
    for c in df.columns:
        out[c] = _plain_cells(df[c], formats.get(c) or _default_format(c, df[c]))
    headers = plain_columns(df.columns)
    if keep_codes:
        out.columns = pd.MultiIndex.from_arrays([headers, list(df.columns)])
    else:
        out.columns = headers
    return out


# a code identifier: lower-case words joined by underscores (at least one underscore)
_CODE_RE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")
_TOKEN_RE = re.compile(r"(?<![\w./\\-])[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+(?![\w/\\-])")
# a proportion written as 0.xxx (2 or more decimals), not part of a longer number, date, or version
_PROPORTION_RE = re.compile(r"(?<![\w.])[01]?\.\d{2,}(?![\d.%])")


def find_code_names(text: str, *, allow: Iterable[str] = ()) -> list[str]:
    """The ``snake_case`` tokens in visible text (code names a reader should never see), in order, deduplicated.

    Parts of file names, paths and URLs (``tables_all.csv``, ``/data_synthetic/``) are not reported;
    ``allow`` lists tokens that are meant to be there.

    Examples
    --------
    >>> find_code_names("Completion (assessed_of_referred): n_resolved = 12; see site_S01.csv")
    ['assessed_of_referred', 'n_resolved']
    >>> find_code_names("Average change in score, 95% CI")
    []
    """
    allow = set(allow)
    out: list[str] = []
    for m in _TOKEN_RE.finditer(text):
        tok = m.group(0)
        end = m.end()
        if text[end:end + 1] == "." and re.match(r"\.[A-Za-z]{2,5}\b", text[end:end + 6]):
            continue  # a file name such as tables_all.csv
        if tok in allow or tok in out:
            continue
        out.append(tok)
    return out


def find_raw_proportions(text: str) -> list[str]:
    """Numbers written as raw proportions (``0.859``, ``.42``) in text that should show percentages.

    Use it on the cells of rate columns; years, versions ("0.2.1") and p-values written
    with "p =" are the caller's to leave out.

    Examples
    --------
    >>> find_raw_proportions("completion 0.801 (0.772 to 0.827); 80%")
    ['0.801', '0.772', '0.827']
    >>> find_raw_proportions("80% (77% to 83%)")
    []
    """
    return _PROPORTION_RE.findall(text)


def csv_header_rows(columns) -> list[list[str]]:
    """The header of a published CSV / workbook sheet: plain words, then the code names for analysts.

    The code row is left out when it would repeat the plain row (no column has a code name).

    Examples
    --------
    >>> csv_header_rows(["stage", "n_resolved"])
    [['Stage', 'Number with a decision'], ['stage', 'n_resolved']]
    >>> csv_header_rows(["Figure", "Value"])
    [['Figure', 'Value']]
    """
    codes = [str(c) for c in columns]
    plain = [_words(c, c) for c in codes]
    return [plain] if plain == codes else [plain, codes]


def code_row_below(first, second) -> bool:
    """Whether ``second`` is the code row that :func:`csv_header_rows` writes under the plain row ``first``.

    Exact, not a guess from the look of the cells: each code must have exactly its plain name above it.
    """
    first, second = [str(x).strip() for x in first], [str(x).strip() for x in second]
    return (len(first) == len(second) and first != second
            and all(_words(c, c) == f for f, c in zip(first, second)))


def read_published_csv(text: str):
    """A published CSV download as a DataFrame with the code names as columns (all cells as text).

    Examples
    --------
    >>> read_published_csv("Stage,Number with a decision\\nstage,n_resolved\\nreferred,425\\n").columns.tolist()
    ['stage', 'n_resolved']
    """
    import csv
    import io

    import pandas as pd

    rows = list(csv.reader(io.StringIO(text)))
    skip = 2 if len(rows) > 1 and code_row_below(rows[0], rows[1]) else 1
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skiprows=skip - 1)

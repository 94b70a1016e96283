"""Equality monitoring: who is referred, who starts and who completes, by each characteristic.

A public body has to show that its service reaches and serves every group
(the public sector equality duty, Equality Act 2010 s.149).  For each
characteristic the data hold (gender, age band, ethnicity, disability,
religion or belief, sexual orientation, and the complex needs of contract
version 2), :func:`profile` counts per group:

``n_referred``
    referral episodes;
``n_resolved``
    referrals no longer waiting: started, or closed before starting
    (declined, unsuitable, ...); those still awaiting assessment or a place
    are left out of the start rate, since their outcome is not known yet;
``n_started``
    referrals that started (a first attended session);
``n_left``
    referrals that started and have left (any exit reason);
``n_completed``
    referrals that completed.

The *start rate* is ``n_started / n_resolved`` and the *completion rate*
here is ``n_completed / n_left`` (people still attending are not counted:
this is the share of leavers who completed, simpler than the headline
completion rate, which follows people still attending).

:func:`compare_groups` compares each group with everyone else on both rates
(difference with Newcombe's hybrid score interval) from counts it is given,
so a report can run it on the counts it publishes (rounded, small groups
merged) and name the groups that start or complete less without telling more
than the published table.  The same functions serve results by district
(``by="district"``) and by programme strand (``by="programme_name"``).

Examples
--------
>>> from dapp_eval import load_programme
>>> p = profile(load_programme("data_synthetic"), characteristics=["gender"]).summary
>>> p[["group", "n_referred"]].head(2).values.tolist()
[['Male', 1858], ['Female', 138]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from dapp_eval.analyses.episodes import programme_status
from dapp_eval.columns import Count, Label, Merge, Proportion
from dapp_eval.data.schema import AGE_BANDS, TABLES, age_band
from dapp_eval.errors import AnalysisError
from dapp_eval.estimators.proportions import newcombe_diff_ci, wilson_ci
from dapp_eval.results import AnalysisResult, check_alpha, make_meta

__all__ = ["CHARACTERISTICS", "NOT_DISCLOSED", "COUNT_COLUMNS", "profile", "profile_roles", "compare_groups",
           "under_18", "under_18_roles"]

#: characteristic -> (column of referrals.csv, plain label); ``age_band`` is derived from ``age``
CHARACTERISTICS: dict[str, str] = {
    "gender": "Gender",
    "age_band": "Age band",
    "ethnicity": "Ethnic group",
    "disability": "Disability",
    "religion": "Religion or belief",
    "sexual_orientation": "Sexual orientation",
    "mental_health": "Mental health need",
    "aces_flag": "Adverse childhood experiences (4 or more)",
    "interpreter_needed": "Interpreter needed",
    "substance_misuse": "Substance misuse",
}
#: groups that are not a group of people but a gap in the record: never named as reaching less
NOT_DISCLOSED = ("Prefer not to say", "Not recorded", "Unknown")
COUNT_COLUMNS = ("n_referred", "n_resolved", "n_started", "n_left", "n_completed")
_PROTECTED = ("gender", "age_band", "ethnicity", "disability", "religion", "sexual_orientation")

_WORDS = {
    "male": "Male", "female": "Female", "other": "Other", "unknown": "Unknown",
    "white_british": "White British", "white_other": "White other", "asian": "Asian", "black": "Black",
    "mixed": "Mixed", "yes": "Yes", "no": "No", "prefer_not_to_say": "Prefer not to say",
    "not_recorded": "Not recorded", "no_religion": "No religion", "christian": "Christian", "muslim": "Muslim",
    "hindu": "Hindu", "sikh": "Sikh", "jewish": "Jewish", "buddhist": "Buddhist", "heterosexual": "Heterosexual",
    "gay_or_lesbian": "Gay or lesbian", "bisexual": "Bisexual",
}


def _values(ref: pd.DataFrame, col: str, *, listed: bool = False) -> pd.Series | None:
    """The groups of one characteristic in plain words ('Not recorded' when empty); None if never recorded
    (or, ``listed``, if the column is absent: a column present but empty is then all 'Not recorded')."""
    if col == "age_band":
        if "age" not in ref or (ref["age"].isna().all() and not listed):
            return None
        return ref["age"].map(age_band).fillna("Not recorded")
    if col not in ref or (ref[col].isna().all() and not listed):
        return None
    s = ref[col]
    if isinstance(s.dtype, pd.BooleanDtype) or s.dtype == bool:
        return s.map({True: "Yes", False: "No"}).astype(object).fillna("Not recorded")
    if col in TABLES["referrals"].names and TABLES["referrals"].column(col).kind == "enum":
        return s.map(lambda v: _WORDS.get(v, str(v).replace("_", " ").capitalize()) if pd.notna(v) else None) \
            .fillna("Not recorded")
    return s.astype(object).where(s.notna(), "Not recorded")


def _order(col: str, groups: Sequence[str]) -> list[str]:
    if col == "age_band":
        order = [*AGE_BANDS, "Not recorded"]
        return [g for g in order if g in set(groups)]
    elif col in TABLES["referrals"].names and TABLES["referrals"].column(col).values:
        order = [_WORDS.get(v, v.replace("_", " ").capitalize()) for v in TABLES["referrals"].column(col).values]
        order = list(dict.fromkeys([*order, "Not recorded"]))
    elif col in ("mental_health", "aces_flag", "interpreter_needed", "substance_misuse"):
        order = ["Yes", "No", "Not recorded"]
    else:  # free text (district, programme strand): largest first, then by name, 'Not recorded' last
        return list(groups)
    return [g for g in order if g in set(groups)] + sorted(g for g in groups if g not in order)


def profile(data, *, characteristics: Sequence[str] | None = None, by: str | None = None,
            recorded: Sequence[str] = (), every: Sequence[str] = ()) -> AnalysisResult:
    """Referrals, starts and completions per group of each characteristic (or of one column ``by``).

    Parameters
    ----------
    data : ProgrammeData
    characteristics : sequence of str, optional
        Keys of :data:`CHARACTERISTICS` (default: all of them).
    by : str, optional
        One column of referrals.csv instead (``"district"``, ``"programme_name"``), groups largest first.
    recorded : sequence of str, optional
        Characteristics to list even where this data never record them (all 'Not recorded'): a release gives
        every site's report the characteristics recorded anywhere in its data, since a row missing at one site
        said "nobody's value is recorded there" (issue 26, attack a15 F4). By default a characteristic whose
        column is empty is left out (``meta["not_recorded"]``).
    every : sequence of str, optional
        With ``by``: groups to list even where nobody here is in them (a release gives every site the programme
        strands of its whole data: "one strand only" at a site said nobody there was referred to the other;
        attack a18 H5).

    Returns
    -------
    AnalysisResult
        ``summary``: ``characteristic`` (code), ``label``, ``group``, then :data:`COUNT_COLUMNS`.
        ``meta["not_recorded"]``: the characteristics the data do not hold (every cell empty).

    Raises
    ------
    AnalysisError
        When none of the characteristics asked for is recorded.
    """
    ref = data.referrals
    status = programme_status(ref)
    started = ref["start_date"].notna().to_numpy()
    closed = ref["exit_reason"].notna().to_numpy()
    flags = {
        "n_referred": np.ones(len(ref), dtype=bool),
        "n_resolved": started | closed,
        "n_started": started,
        "n_left": started & closed,
        "n_completed": (status == "completed").to_numpy(),
    }
    cols = [by] if by is not None else list(characteristics or CHARACTERISTICS)
    parts, missing = [], []
    for col in cols:
        if by is None and col not in CHARACTERISTICS:
            raise ValueError(f"unknown characteristic {col!r}; known: {', '.join(CHARACTERISTICS)}")
        groups = _values(ref, col, listed=col in recorded)
        if groups is None:
            missing.append(col)
            continue
        g = pd.DataFrame({k: v.astype(int) for k, v in flags.items()}).groupby(groups.to_numpy()).sum()
        if by is not None and every:
            g = g.reindex(list(dict.fromkeys([*g.index, *map(str, every)])), fill_value=0)
        if by is not None:
            g = g.sort_values("n_referred", ascending=False, kind="stable")
            order = [x for x in g.index if x != "Not recorded"] + [x for x in g.index if x == "Not recorded"]
        else:
            order = _order(col, list(g.index))
        g = g.loc[order]
        g.insert(0, "group", g.index.astype(str))
        g.insert(0, "label", CHARACTERISTICS.get(col, {"district": "District", "programme_name": "Programme strand"}
                                               .get(col, col)))
        g.insert(0, "characteristic", col)
        parts.append(g.reset_index(drop=True))
    if not parts:
        what = ", ".join(CHARACTERISTICS.get(c, c).lower() for c in missing)
        raise AnalysisError(f"the data do not record {what} (the columns are absent or empty in referrals.csv)")
    summary = pd.concat(parts, ignore_index=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        summary["prop_started"] = summary["n_started"] / summary["n_resolved"].where(summary["n_resolved"] > 0)
        summary["prop_completed"] = summary["n_completed"] / summary["n_left"].where(summary["n_left"] > 0)
    meta = make_meta(n_in=len(ref), excluded={}, unit="referrals", method=(
        "counts per group; start rate = started / no longer waiting; completion rate = completed / started and "
        "left"), not_recorded=missing, protected=[c for c in cols if c in _PROTECTED])
    return AnalysisResult(summary=summary, meta=meta, title="Equality monitoring: referrals, starts and completions",
                          roles={"summary": profile_roles()})


def profile_roles() -> list:
    """What each column of :func:`profile`'s summary is: small groups of a characteristic merged (never
    dropped), counts of referrals, and the start and completion rates of the published counts."""
    return [Merge(by=("characteristic",), level="group", add=COUNT_COLUMNS),
            Label("characteristic", "label", "group"), Count(*COUNT_COLUMNS),
            Proportion("n_started", "n_resolved", estimate="prop_started", ci=None),
            Proportion("n_completed", "n_left", estimate="prop_completed", ci=None)]


def compare_groups(counts: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Each group against everyone else in its characteristic: start rate and completion rate.

    Parameters
    ----------
    counts : DataFrame
        ``characteristic``, ``group`` and the counts ``n_resolved``, ``n_started``, ``n_left`` and
        ``n_completed`` (true or published counts: the comparison tells no more than they do).
    alpha : float

    Returns
    -------
    DataFrame
        One row per group and measure (``start`` / ``completion``): ``estimate`` and its Wilson
        interval, ``rest`` (everyone else's rate), ``difference`` (group minus rest) with Newcombe's
        interval, and ``lower`` (True when the whole interval of the difference is below zero);
        ``k``, ``n``, ``k_rest`` and ``n_rest`` are the counts compared. The interval of the difference is simultaneous over the groups of the characteristic
        (Bonferroni: level ``1 - alpha / k`` for ``k`` groups compared), so that a characteristic
        with many groups does not name one by chance; ``k`` is in column ``n_groups_compared``.

    Examples
    --------
    >>> t = pd.DataFrame({"characteristic": "x", "group": ["a", "b"], "n_resolved": [100, 100],
    ...                   "n_started": [80, 50], "n_left": [60, 40], "n_completed": [45, 30]})
    >>> r = compare_groups(t)
    >>> r.loc[r["lower"], ["group", "measure"]].values.tolist()
    [['b', 'start']]
    """
    alpha = check_alpha(alpha)
    rows = []
    for (char,), g in counts.groupby(["characteristic"], sort=False):
        for measure, k, n in (("start", "n_started", "n_resolved"), ("completion", "n_completed", "n_left")):
            kk = pd.to_numeric(g[k], errors="coerce").to_numpy(dtype=float)
            nn = pd.to_numeric(g[n], errors="coerce").to_numpy(dtype=float)
            tot_k, tot_n = np.nansum(kk), np.nansum(nn)
            ok = np.isfinite(kk) & np.isfinite(nn) & (nn > 0) & (tot_n - nn > 0)
            k_groups = int(ok.sum())
            for grp, a, b, good in zip(g["group"], kk, nn, ok):
                if not good:
                    continue
                lo, hi = wilson_ci(a, b, alpha=alpha)
                d, dlo, dhi = newcombe_diff_ci(a, b, tot_k - a, tot_n - b, alpha=alpha / max(k_groups, 1))
                rows.append({"characteristic": char, "group": grp, "measure": measure, "k": a, "n": b,
                             "k_rest": tot_k - a, "n_rest": tot_n - b, "estimate": a / b,
                             "ci_lower": float(lo), "ci_upper": float(hi), "rest": (tot_k - a) / (tot_n - b),
                             "difference": d, "difference_ci_lower": dlo, "difference_ci_upper": dhi,
                             "n_groups_compared": k_groups, "lower": bool(dhi < 0)})
    cols = ["characteristic", "group", "measure", "k", "n", "k_rest", "n_rest", "estimate", "ci_lower", "ci_upper",
            "rest", "difference",
            "difference_ci_lower", "difference_ci_upper", "n_groups_compared", "lower"]
    return pd.DataFrame(rows, columns=cols)


def under_18_roles() -> list:
    """:func:`under_18`'s counts as a one-row table: counts of people (referrals)."""
    return [Count("n_under_18", "n_aged_16_17", "n_age_recorded")]


def under_18(data) -> dict[str, int]:
    """Referrals of people under 18 at referral (the contract allows ages from 14), all and aged 16-17.

    Examples
    --------
    >>> from dapp_eval import load_programme
    >>> under_18(load_programme("data_synthetic"))
    {'n_under_18': 8, 'n_aged_16_17': 8, 'n_age_recorded': 1962}
    """
    age = pd.to_numeric(data.referrals["age"], errors="coerce")
    return {"n_under_18": int((age < 18).sum()), "n_aged_16_17": int(age.between(16, 17).sum()),
            "n_age_recorded": int(age.notna().sum())}


def recorded_characteristics(data) -> list[str]:
    """The characteristics of :data:`CHARACTERISTICS` that ``data`` record for at least one referral."""
    return [c for c in CHARACTERISTICS if _values(data.referrals, c) is not None]

"""Tables published through :func:`dapp_eval.disclosure.roles.publish` (declared column roles) as page blocks,
and the published numbers that charts and sentences read (never a result's true counts)."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

#: a comparison is broken down by a second variable (behaviour, risk band) only where its group holds at least
#: this many times the threshold people (as published): a change or move seen in 1 in 10 is then expected to
#: reach the threshold; below it, the breakdown would be mostly small cells (issue 26: withheld share)
BREAKDOWN_MINIMUM = 10
#: a survey wave is broken down by behaviour or answer only where at least this many times the threshold
#: answered (as published): a share of 1 in 5 is then expected to reach the threshold
WAVE_MINIMUM = 5


def role_table(page, df, roles, *, caption: str, name: str, drop: tuple = ()) -> dict:
    """The table block of ``df`` published with ``roles`` under the page's policy (or the withheld sentence)."""
    return page.publish(df, roles=roles, caption=caption, name=name, drop=drop)


def publish_table(page, result, *, caption: str, name: str, table: str = "summary", roles=None, rows=None,
                  drop: tuple = (), pairs: dict | None = None,
                  margins: list | None = None) -> tuple[dict, pd.DataFrame | None]:
    """:meth:`Page.publish`, also returning the published table (None when the release withholds it), so
    that a chart or sentence beside the table reads the same published numbers.

    ``pairs`` (numerator -> denominator) add counts to the zero rule that no :class:`Proportion` declares;
    ``margins`` go to the count step's secondary suppression (:func:`dapp_eval.disclosure.roles.publish`).
    """
    from dapp_eval.report.sections._counts import publish_block

    return publish_block(page, result, caption=caption, name=name, table=table, roles=roles, rows=rows, drop=drop,
                         pairs=pairs, margins=margins)


def numbers(shown: pd.DataFrame) -> pd.DataFrame:
    """A published table with every published number as a number: NaN where a cell is ``<T`` or ``[c]``;
    text columns kept as they are."""
    out = shown.copy()
    for c in out.columns:
        col = out[c]
        if col.dtype != object:
            continue
        # the text of each cell as str.replace / str.strip make it, cell by cell (the .str accessor's own
        # functions, without a Series per step: a page reads hundreds of tables this way)
        text = np.array([t.replace(",", "").strip() for t in col.astype(str).to_numpy()], dtype=object)
        num = pd.to_numeric(text, errors="coerce")
        hidden = np.array([t.startswith("<") or t == "[c]" for t in text], dtype=bool)
        if (~pd.isna(num) | hidden | col.isna().to_numpy()).all():
            out[c] = pd.Series(num, index=col.index).astype(float)
    return out


def chart_result(res, shown: pd.DataFrame, table: str = "summary"):
    """A copy of ``res`` whose ``table`` is the published table (as numbers) and that holds no other table,
    for its plotter: the chart draws only published values."""
    out = copy.copy(res)
    pub = numbers(shown)
    if table == "summary":
        out.summary, out.tables = pub, {}
    else:
        out.tables = {table: pub}
    return out


def quiet(dc):
    """A control with ``dc``'s policy that logs nothing (numbers worked out for a sentence, published elsewhere)."""
    return dc.same_policy()


def published_count(page, value, *, name: str) -> float:
    """One count as published under the page's policy (NaN where it is not shown)."""
    from dapp_eval.columns import Count, Label
    from dapp_eval.disclosure.roles import publish

    t = pd.DataFrame({"what": [name], "n": [value]})
    return float(numbers(publish(t, [Label("what"), Count("n")], quiet(page.dc), name=name))["n"].iloc[0])


def count_text(page, value, *, name: str) -> str:
    """A count for a sentence, as published ("about 120"; "fewer than 10"; "an unpublished number")."""
    from dapp_eval import formatting as fmt

    v = published_count(page, value, name=name)
    if np.isfinite(v):
        return fmt.count(v)
    # a 0 not shown is "fewer than T", as in the tables ('<T' is 0 to T - 1): "an unpublished number" said "none"
    return f"fewer than {page.dc.threshold}" if 0 <= float(value) < page.dc.threshold else "an unpublished number"


def published_paired_change(dc, n, yes_before, stopped, started, alpha: float) -> dict | None:
    """Change in percentage points, Newcombe's paired interval and the exact McNemar p from the *published*
    2x2 table of a before/after (or T1/T4) comparison, or None where the table may not be shown.

    The 2x2 table goes through the publication step with the paired table's roles
    (:func:`dapp_eval.analyses.safety.paired_roles`): every cell is rounded, the statistics are withheld
    when a discordant cell is from 1 to threshold - 1, when the published cells do not add up, or under the
    zero rule.
    """
    from dapp_eval.analyses.safety import PAIRED_ZERO_RULE, paired_roles
    from dapp_eval.disclosure.roles import publish

    if any(v is None or v != v for v in (n, yes_before, stopped, started)) or n <= 0:
        return None
    t = pd.DataFrame({"behaviour": ["change"], "n_pairs": [n], "n_yes_baseline": [yes_before],
                      "n_yes_followup": [yes_before - stopped + started], "n_stopped": [stopped],
                      "n_started": [started], "estimate": [0.0], "ci_lower": [0.0], "ci_upper": [0.0],
                      "p_value": [0.0]})
    pub = numbers(publish(t, paired_roles(t.columns, alpha), quiet(dc), name="paired change",
                          pairs=PAIRED_ZERO_RULE)).iloc[0]
    if pub[["n_pairs", "estimate", "ci_lower", "ci_upper"]].isna().any():
        return None
    return {"n": pub["n_pairs"], "estimate": float(pub["estimate"]), "ci_lower": float(pub["ci_lower"]),
            "ci_upper": float(pub["ci_upper"]), "p_value": float(pub["p_value"])}


def change_cells(summary, label) -> tuple:
    """The true pairs, 'yes before' and discordant pairs of one outcome's 'any incident' comparison."""
    rows = summary[(summary["label"] == label) & (summary["measure"] == "any incident")].set_index("period")
    if not {"before", "change"} <= set(rows.index) or "n_stopped" not in rows:
        return (None,) * 4
    ch = rows.loc["change"]
    return (float(ch["n"]), float(rows.loc["before", "n_with_incident"]), float(ch["n_stopped"]),
            float(ch["n_started"]))


def renamed(df: pd.DataFrame, roles: list, mapping: dict[str, str]) -> tuple[pd.DataFrame, list]:
    """``df`` with columns renamed for the page (``mapping``), and its roles declaring the same columns under
    their new names (the publication step is unchanged: only the names are)."""
    import dataclasses

    def new(c):
        return mapping.get(c, c) if isinstance(c, str) else c

    out = []
    for r in roles:
        changes = {}
        for f in dataclasses.fields(r):
            v = getattr(r, f.name)
            if f.name in ("cols", "inputs", "by", "across", "add") and isinstance(v, tuple):
                changes[f.name] = tuple(new(c) for c in v)
            elif f.name in ("numerator", "denominator", "estimate", "n", "events", "level"):
                changes[f.name] = new(v)
            elif f.name == "ci" and v is not None:
                changes[f.name] = tuple(new(c) for c in v)
        r2 = object.__new__(type(r))
        for f in dataclasses.fields(r):
            object.__setattr__(r2, f.name, changes.get(f.name, getattr(r, f.name)))
        out.append(r2)
    return df.rename(columns=mapping), out

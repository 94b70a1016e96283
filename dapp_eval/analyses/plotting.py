"""Every figure of dapp_eval; no statistics in here.

Functions take a result (or tidy DataFrame) and ``ax=None`` and return the
Axes. Colours and line styles come from :data:`PALETTE` and :data:`LINESTYLES`,
chosen to stay distinguishable in greyscale (dark/mid/light plus distinct
dashes and markers).
"""

from __future__ import annotations

# matplotlib.pyplot is imported inside the functions that draw, so that importing an analysis module (which
# imports this one for its .plot()) does not load pyplot and pick a backend.

__all__ = ["PALETTE", "LINESTYLES", "MARKERS", "new_axes", "plot_funnel_flow", "plot_waiting_times",
           "plot_waiting_list", "plot_throughput", "plot_attendance", "plot_smd", "plot_costs",
           "plot_prevalence", "plot_paired_change", "plot_wave_model", "plot_change_views", "plot_feeling_safe",
           "plot_space_for_action", "plot_response_rates", "plot_partner_support", "plot_before_after",
           "plot_time_to_incident", "plot_compare_completers", "plot_balance", "plot_site_funnel"]

#: colour-blind safe and greyscale-distinguishable (luminance spread), Okabe-Ito based
PALETTE = ["#000000", "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442"]
LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 1)), (0, (8, 2))]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


def new_axes(ax=None, *, figsize=(7, 4.5)):
    """Return ``ax`` or a fresh Axes of a standard size."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
    return ax


# ---------------------------------------------------------------------------
# funnel (engagement) figures
# ---------------------------------------------------------------------------


def _table_of(result, name=None):
    """A result's named table (or summary), or the DataFrame passed in."""
    if hasattr(result, "summary"):
        return result.tables[name] if name and name in result.tables else result.summary
    return result


def _fmt_n(v):
    """Counts as text; values already suppressed / rounded by disclosure control pass through."""
    try:
        if v != v:  # NaN
            return "-"
        return f"{int(v):,}" if float(v) == int(v) else str(v)
    except (TypeError, ValueError):
        return str(v)


def plot_funnel_flow(result, ax=None, *, group="all", title=None):
    """CONSORT-style participant-flow diagram of the referral -> completion funnel.

    Parameters
    ----------
    result : AnalysisResult or DataFrame
        From :func:`dapp_eval.analyses.funnel.cascade`, or its ``counts`` table
        (columns ``group``, ``stage``, ``n``; ``n`` may hold suppressed
        text such as ``"<10"``, shown as given).
    ax : matplotlib Axes, optional
    group : str
        Which group to draw (``"all"`` = every referral).

    Returns
    -------
    matplotlib.axes.Axes
    """
    counts = _table_of(result, "counts")
    counts = counts[(counts["group"] == group) & (counts.get("row_type", "stage") == "stage")]
    if counts.empty:
        raise ValueError(f"no funnel counts for group {group!r}")
    n = dict(zip(counts["stage"], counts["n"]))
    ax = new_axes(ax, figsize=(8, 9))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")
    box = {"boxstyle": "round,pad=0.4", "facecolor": "white", "edgecolor": PALETTE[0], "linewidth": 1.2}
    side = {"boxstyle": "round,pad=0.4", "facecolor": "#F2F2F2", "edgecolor": "#555555", "linewidth": 0.9}
    arrow = {"arrowstyle": "-|>", "color": PALETTE[0], "linewidth": 1.0}
    xm, xs = 0.27, 0.74
    main = [("referred", "Referred", 0.93), ("assessed", "Assessed", 0.71), ("accepted", "Accepted (suitable)", 0.51),
            ("started", "Started", 0.29)]
    sides = {
        "referred": [("declined_assessment", "Declined assessment"), ("awaiting_assessment", "Awaiting assessment"),
                     ("exited_before_assessment", "Other exit before assessment")],
        "assessed": [("unsuitable", "Assessed as unsuitable")],
        "accepted": [("declined_to_start", "Declined to start"), ("awaiting_start", "Awaiting start"),
                     ("exited_before_start", "Other exit before starting")],
    }
    for i, (stage, label, y) in enumerate(main):
        ax.text(xm, y, f"{label}\nn = {_fmt_n(n.get(stage))}", ha="center", va="center", bbox=box, fontsize=10)
        if i + 1 < len(main):
            ax.annotate("", xy=(xm, main[i + 1][2] + 0.045), xytext=(xm, y - 0.045), arrowprops=arrow)
        if stage in sides:
            yb = (y + main[i + 1][2]) / 2
            lines = "\n".join(f"{lab}: n = {_fmt_n(n.get(s))}" for s, lab in sides[stage])
            ax.text(xs, yb, lines, ha="center", va="center", bbox=side, fontsize=9)
            ax.annotate("", xy=(xs - 0.2, yb), xytext=(xm, yb), arrowprops=arrow)
    # outcomes after starting: a row of boxes
    outs = [("still_attending", "Still\nattending"), ("completed", "Completed"), ("dropped_out", "Dropped\nout"),
            ("excluded", "Excluded"), ("other_exit", "Other exit")]
    xs_out = [0.1 + 0.2 * k for k in range(len(outs))]
    for (s, lab), x in zip(outs, xs_out):
        style = box if s == "completed" else side
        ax.text(x, 0.07, f"{lab}\nn = {_fmt_n(n.get(s))}", ha="center", va="center", bbox=style, fontsize=9)
        ax.annotate("", xy=(x, 0.125), xytext=(xm, main[-1][2] - 0.045), arrowprops={**arrow, "linewidth": 0.8})
    ax.set_title(title or ("Participant flow" + ("" if group == "all" else f": {group}")))
    return ax


def plot_waiting_times(result, ax=None, *, groups=None, show_competing=True):
    """Cumulative incidence of the end of the wait (and of leaving while waiting) by group.

    Parameters
    ----------
    result : AnalysisResult
        From :func:`dapp_eval.analyses.funnel.waiting_times`.
    groups : list of str, optional
        Groups to draw (default: every group, or only ``"all"`` when there
        are more than six).
    show_competing : bool
        Also draw the competing outcomes (thin lines).
    """
    cif = result.tables["cif"]
    ax = new_axes(ax)
    if cif is None or cif.empty:
        ax.text(0.5, 0.5, "no events to draw", ha="center", va="center", transform=ax.transAxes)
        return ax
    causes = result.meta.get("causes", list(cif["cause"].unique()))
    avail = list(dict.fromkeys(cif["group"]))
    if groups is None:
        groups = avail if len(avail) <= 6 else ["all"]
    for i, g in enumerate(groups):
        sub = cif[cif["group"] == g]
        for j, c in enumerate(causes if show_competing else causes[:1]):
            cc = sub[sub["cause"] == c].sort_values("time")
            if cc.empty:
                continue
            t = [0.0, *cc["time"].tolist()]
            y = [0.0, *cc["estimate"].tolist()]
            ax.step(t, y, where="post", color=PALETTE[i % len(PALETTE)], linestyle=LINESTYLES[j % len(LINESTYLES)],
                    linewidth=1.8 if j == 0 else 1.0, label=f"{g}: {c.replace('_', ' ')}")
            if j == 0 and {"ci_lower", "ci_upper"} <= set(cc):
                ax.fill_between(cc["time"], cc["ci_lower"], cc["ci_upper"], step="post",
                                color=PALETTE[i % len(PALETTE)], alpha=0.12, linewidth=0)
    ax.axhline(0.5, color="#888888", linewidth=0.6, linestyle=":")
    ax.set_ylim(0, 1)
    ax.set_xlabel(f"Time since {result.meta.get('step', 'referral_to_assessment').split('_to_')[0]} "
                  f"({result.meta.get('time_unit', 'days')})")
    ax.set_ylabel("Cumulative incidence")
    ax.set_title(result.title)
    ax.legend(fontsize=8, frameon=False)
    return ax


def plot_waiting_list(result, ax=None):
    """Number waiting at the extract date by group, split into awaiting assessment / awaiting start."""
    df = _table_of(result)
    df = df[df["list"] != "any"]
    ax = new_axes(ax)
    groups = list(dict.fromkeys(df["group"]))
    bottom = [0.0] * len(groups)
    for i, lst in enumerate(["awaiting_assessment", "awaiting_start"]):
        vals = [float(df.loc[(df["group"] == g) & (df["list"] == lst), "n_waiting"].sum()) for g in groups]
        ax.bar(groups, vals, bottom=bottom, color=PALETTE[i + 1], edgecolor=PALETTE[0], hatch=["", "//"][i],
               label=lst.replace("_", " "))
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_ylabel("People waiting at the extract date")
    ax.set_title(getattr(result, "title", "Waiting list"))
    ax.legend(frameon=False)
    return ax


def plot_throughput(result, ax=None, *, group="all"):
    """Referrals, starts and completions per quarter, with the quarterly target where there is one."""
    df = _table_of(result)
    df = df[df["group"] == group]
    ax = new_axes(ax)
    x = list(range(len(df)))
    w = 0.27
    for k, (col, lab) in enumerate([("n_referrals", "Referrals"), ("n_starts", "Starts"),
                                    ("n_completions", "Completions")]):
        ax.bar([xi + (k - 1) * w for xi in x], df[col].astype(float), width=w, color=PALETTE[k + 1],
               edgecolor=PALETTE[0], hatch=["", "//", ".."][k], label=lab)
    if df["target_completions"].notna().any():
        ax.plot(x, df["target_completions"], color=PALETTE[0], linestyle="--", marker="_",
                label="Target completions per quarter")
    for xi, partial in zip(x, df["partial"]):
        if partial:
            # a band over the axes' height (not a rectangle patch: its height is the axis range, not a count)
            ax.fill_between([xi - 0.5, xi + 0.5], 0, 1, transform=ax.get_xaxis_transform(), color="#DDDDDD",
                            alpha=0.5, linewidth=0, zorder=0)
    ax.set_xticks(x)
    ax.set_xticklabels(df["quarter"], rotation=45, ha="right")
    ax.set_ylabel("Number")
    ax.set_title(f"Throughput by quarter{'' if group == 'all' else ': ' + str(group)} (shaded: incomplete quarter)")
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_attendance(result, ax=None, *, measure="attended_of_scheduled"):
    """Attendance rate with confidence interval by group."""
    df = _table_of(result)
    df = df[df["measure"] == measure].reset_index(drop=True)
    ax = new_axes(ax)
    y = list(range(len(df)))[::-1]
    ax.errorbar(df["estimate"], y, xerr=[df["estimate"] - df["ci_lower"], df["ci_upper"] - df["estimate"]],
                fmt="o", color=PALETTE[0], capsize=3)
    ax.set_yticks(y)
    ax.set_yticklabels([f"{g} (n = {_fmt_n(n)})" for g, n in zip(df["group"], df["n"])])
    ax.set_xlabel("Sessions attended / " + ("scheduled" if measure.endswith("scheduled") else "planned"))
    ax.set_xlim(0, max(1.0, float(df["ci_upper"].max(skipna=True) or 1)))
    ax.set_title(getattr(result, "title", "Attendance"))
    return ax


def plot_smd(result, ax=None, *, threshold=0.1):
    """Love plot: absolute standardised mean differences of baseline characteristics."""
    df = _table_of(result)
    df = df.drop_duplicates(["variable", "level"])
    col = "smd" if df["smd"].notna().any() else "smd_max_abs"
    df = df.assign(_a=df[col].abs()).sort_values("_a")
    ax = new_axes(ax, figsize=(7, max(3.0, 0.22 * len(df))))
    y = list(range(len(df)))
    ax.scatter(df["_a"], y, color=PALETTE[1], marker=MARKERS[0], zorder=3)
    ax.axvline(threshold, color=PALETTE[0], linestyle="--", linewidth=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels([f"{v}: {lev}" for v, lev in zip(df["variable"], df["level"])], fontsize=7)
    ax.set_xlabel("|standardised mean difference|" + (" (largest pairwise)" if col == "smd_max_abs" else ""))
    ax.set_title(getattr(result, "title", "Baseline balance"))
    return ax


def plot_costs(result, ax=None):
    """Cost per referral, per start and per completion by site (sites without a cost are labelled)."""
    df = _table_of(result)
    ax = new_axes(ax)
    groups = list(df["group"])
    x = list(range(len(groups)))
    w = 0.27
    for k, (col, lab) in enumerate([("cost_per_referral", "per referral"), ("cost_per_start", "per start"),
                                    ("cost_per_completion", "per completion")]):
        ax.bar([xi + (k - 1) * w for xi in x], df[col].fillna(0), width=w, color=PALETTE[k + 1],
               edgecolor=PALETTE[0], hatch=["", "//", ".."][k], label=f"Cost {lab}")
    for xi, c in enumerate(df["period_cost_gbp"]):
        if c != c:
            ax.text(xi, 0, "no cost\ngiven", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x)
    ax.set_xticklabels(groups)
    ax.set_ylabel("GBP")
    ax.set_title(getattr(result, "title", "Costs"))
    ax.legend(frameon=False, fontsize=8)
    return ax


# ---------------------------------------------------------------------------
# attrition (survival) figures
# ---------------------------------------------------------------------------

import numpy as np  # noqa: E402

from dapp_eval.formatting import format_p  # noqa: E402


def _ci(result) -> str:
    """'95% CI' at the level the result was computed at (its ``meta['alpha']``)."""
    from dapp_eval.results import level_text

    meta = getattr(result, "meta", None) or {}
    return f"{level_text(meta.get('alpha', 0.05))} CI"


__all__ += ["plot_cumulative_incidence", "plot_km", "risk_table"]

_ATT_OUTCOME_LABELS = {"completed": "Completed", "dropped_out": "Dropped out", "excluded": "Excluded by provider",
                       "other_exit": "Other exit"}


def _att_text(v):
    """A count for the at-risk table; values already suppressed by disclosure control pass through."""
    try:
        if v != v:
            return "-"
        return f"{int(v)}" if float(v) == int(v) else str(v)
    except (TypeError, ValueError):
        return str(v)


def _att_pfmt(p):
    """'p = 0.048' / 'p < 0.001' (the package's one p-value format), 'p n/a' when missing."""
    return format_p(p, prefix=True, missing="p n/a")


def _att_axes(ax, n_rows, risk_table_on):
    """Main axes plus an axes for the at-risk table under it."""
    if ax is None:
        if risk_table_on:
            import matplotlib.pyplot as plt

            fig = plt.figure(figsize=(7.5, 4.8 + 0.28 * n_rows))
            gs = fig.add_gridspec(2, 1, height_ratios=[4.0, 0.9 + 0.3 * n_rows], hspace=0.45)
            ax = fig.add_subplot(gs[0])
            tab = fig.add_subplot(gs[1], sharex=ax)
            return ax, tab
        return new_axes(None), None
    if not risk_table_on:
        return ax, None
    h = 0.12 + 0.07 * n_rows
    tab = ax.inset_axes([0.0, -0.22 - h, 1.0, h], sharex=ax)
    return ax, tab


def risk_table(result, ax, *, times=None, events="n_cum_exits", events_label="cumulative exits"):
    """Draw a numbers-at-risk table ("n (events)") under a survival plot.

    ``result`` is a result with an ``at_risk`` table (columns ``group,
    time_days, n_at_risk`` and ``events``) or that table itself; ``ax`` is
    the axes to draw it in (x shared with the curves). Returns ``ax``.
    """
    tab = result.tables["at_risk"] if hasattr(result, "tables") else result
    if times is not None:
        tab = tab[tab["time_days"].isin(list(times))]
    groups = list(dict.fromkeys(tab["group"]))
    many = len(groups) > 1
    for i, g in enumerate(groups):
        y = len(groups) - 1 - i
        sub = tab[tab["group"] == g]
        colour = PALETTE[i % len(PALETTE)] if many else "black"
        if many:  # row header above the row, so it never collides with the first column
            ax.text(0.0, y + 0.42, str(g), transform=ax.get_yaxis_transform(), ha="left", va="center",
                    fontsize=7, color=colour, style="italic")
        for r in sub.itertuples():
            ev = getattr(r, events) if events in sub.columns else float("nan")
            ax.text(r.time_days, y, f"{_att_text(r.n_at_risk)} ({_att_text(ev)})", ha="center", va="center",
                    fontsize=7.5, color=colour)
    ax.set_ylim(-0.5, len(groups) - 0.5 + (0.35 if many else 0))
    ax.set_yticks([])
    ax.tick_params(axis="x", labelsize=8)
    for s in ("top", "right", "left"):
        ax.spines[s].set_visible(False)
    ax.set_title(f"Number at risk ({events_label})", fontsize=8, loc="left")
    ax.set_xlabel("Days since programme start")
    return ax


def _att_steps(t, y, lo, hi, start):
    t = np.r_[0.0, np.asarray(t, float)]
    return t, np.r_[start, y], np.r_[start, lo], np.r_[start, hi]


def _att_finish(ax, tab, result, xmax, title, *, outside_legend=False, subtitle=None):
    xmax = xmax if xmax > 0 else 1.0  # every step at time 0: a unit axis, not a singular one
    ax.set_xlim(-0.04 * xmax, xmax * 1.04)
    ax.set_ylim(0, 1.0)
    ax.grid(alpha=0.25, linewidth=0.6)
    for s in ("top", "right"):
        ax.spines[s].set_visible(False)
    if not ax.get_legend_handles_labels()[1]:
        pass  # no curve drawn (each was of none or few): no legend
    elif outside_legend:
        ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        ax.legend(frameon=False, fontsize=8, loc="upper left")
    ax.set_title(title + (f"\n{subtitle}" if subtitle else ""), fontsize=10)
    if tab is not None:
        ticks = sorted(set(result.tables["at_risk"]["time_days"]))
        ax.set_xticks(ticks)
        ax.tick_params(axis="x", labelbottom=True)


class _CurveFrame:
    """An estimator's curve DataFrame dressed as a result, so the survival plots can draw it."""

    def __init__(self, df, *, outcome_col: str | None, title: str):
        d = df.rename(columns={"time": "time_days"}).copy()
        if outcome_col is not None:
            d["outcome"] = d[outcome_col]
        if "group" not in d:
            d["group"] = "all"
        self.summary = d
        self.tables: dict = {}
        self.title = title


def _as_curve_result(result, *, outcome_col: str | None, title: str):
    """AnalysisResult as given; a DataFrame from dapp_eval.estimators (aalen_johansen, kaplan_meier) adapted."""
    import pandas as pd

    if isinstance(result, pd.DataFrame):
        for col in ("time", "estimate", "ci_lower", "ci_upper"):
            if col not in result.columns:
                raise ValueError(f"a curve DataFrame needs column '{col}' (as returned by dapp_eval.estimators)")
        return _CurveFrame(result, outcome_col=outcome_col, title=title), False
    return result, True


def _mark_half_crossing(ax, t, y, colour, marker) -> None:
    """Mark where a cumulative incidence curve first reaches 50% (dotted guides and a marker)."""
    hit = np.flatnonzero(y >= 0.5)
    if hit.size:
        tm = t[hit[0]]
        ax.plot([tm, tm], [0, 0.5], color=colour, linestyle=":", linewidth=0.9)
        ax.plot([0, tm], [0.5, 0.5], color="grey", linestyle=":", linewidth=0.7)
        ax.plot([tm], [0.5], marker=marker, color=colour, markersize=4)


def _outcomes_with_exits(result, full: bool) -> list:
    """The outcomes a cumulative incidence figure draws by default: those with at least one exit."""
    s = result.summary
    if not full:
        return list(dict.fromkeys(s["outcome"]))
    det = result.tables.get("detail", s)
    return [o for o in _ATT_OUTCOME_LABELS if (det.loc[det["outcome"] == o, "n_event"].sum()
                                               if "n_event" in det else 1) > 0]


def plot_cumulative_incidence(result, ax=None, *, outcomes=None, groups=None, ci=True, risk_table_on=True,
                              show_p=True, show_medians=True, title=None):
    """Cumulative incidence of programme exits (survminer style).

    Step curves with pointwise confidence bands, a numbers-at-risk table
    with cumulative exits under the axes, times at which a curve reaches 50%
    marked, and Gray's test p-values annotated.

    Parameters
    ----------
    result : AnalysisResult or DataFrame
        From :func:`dapp_eval.analyses.attrition.cumulative_incidence`, or the curve
        DataFrame of :func:`dapp_eval.estimators.aalen_johansen` (causes are
        drawn as outcomes; add a ``group`` column for several groups; no
        at-risk table or test is drawn for a DataFrame).
    ax : matplotlib Axes, optional
        Axes for the curves; the at-risk table goes in a second axes below.
    outcomes : list of str, optional
        Outcomes to draw (default: those with at least one exit).
    groups : list of str, optional
        Groups to draw (default all).
    ci : bool
        Draw confidence bands.
    risk_table_on : bool
        Draw the numbers-at-risk table.
    show_p, show_medians : bool
        Annotate Gray's test p-values; mark 50% crossing times.

    Returns
    -------
    matplotlib.axes.Axes
        The axes with the curves (the table axes is ``ax.risk_table_ax``).
    """
    result, full = _as_curve_result(result, outcome_col="cause", title="Cumulative incidence")
    risk_table_on = risk_table_on and full
    s = result.summary
    if outcomes is None:
        outcomes = _outcomes_with_exits(result, full)
    all_groups = list(dict.fromkeys(s["group"]))
    groups = all_groups if groups is None else list(groups)
    ax, tab = _att_axes(ax, len(groups), risk_table_on)
    many = len(groups) > 1
    for gi, g in enumerate(groups):
        for oi, o in enumerate(outcomes):
            d = s[(s["group"] == g) & (s["outcome"] == o)].sort_values("time_days")
            if d.empty:
                continue
            k = gi if many else oi
            colour = PALETTE[k % len(PALETTE)]
            ls = LINESTYLES[(oi if many else oi) % len(LINESTYLES)]
            t, y, lo, hi = _att_steps(d["time_days"], d["estimate"], d["ci_lower"].fillna(0), d["ci_upper"].fillna(0),
                                      0.0)
            lab = _ATT_OUTCOME_LABELS.get(o, o)
            label = f"{g}: {lab}" if many else lab
            ax.step(t, y, where="post", color=colour, linestyle=ls, linewidth=1.6, label=label)
            if ci:
                ax.fill_between(t, lo, hi, step="post", color=colour, alpha=0.12, linewidth=0)
            if show_medians:
                _mark_half_crossing(ax, t, y, colour, MARKERS[k % len(MARKERS)])
    ax.set_ylabel("Cumulative incidence")
    xmax = float(s["time_days"].max()) if len(s) else 1.0
    tests = result.tables.get("tests")
    subtitle = None
    if show_p and tests is not None and len(tests):
        txt = "; ".join(f"{_ATT_OUTCOME_LABELS.get(r.outcome, r.outcome).lower()} {_att_pfmt(r.p_value)}"
                        for r in tests.itertuples() if r.outcome in outcomes)
        subtitle = f"Gray's test: {txt}"
    _att_finish(ax, tab, result, xmax, title or getattr(result, "title", "Cumulative incidence"),
                outside_legend=many, subtitle=subtitle)
    if subtitle:
        ax.title.set_fontsize(9)
    if tab is not None:
        at = result.tables["at_risk"]
        risk_table(at[at["group"].isin(groups)], tab)
        ax.set_xlabel("")
        ax.risk_table_ax = tab
    else:
        ax.set_xlabel("Days since programme start")
    return ax


def plot_km(result, ax=None, *, groups=None, ci=True, risk_table_on=True, show_p=True, show_medians=True,
            title=None):
    """Kaplan-Meier "retention" (dropout as event), labelled as overstating dropout.

    Same layout as :func:`plot_cumulative_incidence`; the at-risk table shows
    cumulative dropouts and the log-rank p-value is annotated. ``result``
    may also be the DataFrame of :func:`dapp_eval.estimators.kaplan_meier`
    (with a ``group`` column for several groups; no at-risk table then).

    Returns
    -------
    matplotlib.axes.Axes
    """
    result, full = _as_curve_result(result, outcome_col=None, title="Kaplan-Meier")
    risk_table_on = risk_table_on and full
    s = result.summary
    all_groups = list(dict.fromkeys(s["group"]))
    groups = all_groups if groups is None else list(groups)
    ax, tab = _att_axes(ax, len(groups), risk_table_on)
    for gi, g in enumerate(groups):
        d = s[s["group"] == g].sort_values("time_days")
        colour = PALETTE[gi % len(PALETTE)]
        t, y, lo, hi = _att_steps(d["time_days"], d["estimate"], d["ci_lower"].fillna(1), d["ci_upper"].fillna(1),
                                  1.0)
        ax.step(t, y, where="post", color=colour, linestyle=LINESTYLES[gi % len(LINESTYLES)], linewidth=1.6,
                label=str(g))
        if ci:
            ax.fill_between(t, lo, hi, step="post", color=colour, alpha=0.12, linewidth=0)
        if show_medians:
            hit = np.flatnonzero(y <= 0.5)
            if hit.size:
                tm = t[hit[0]]
                ax.plot([tm, tm], [0, 0.5], color=colour, linestyle=":", linewidth=0.9)
                ax.plot([0, tm], [0.5, 0.5], color="grey", linestyle=":", linewidth=0.7)
    ax.set_ylabel("Not dropped out (Kaplan-Meier)" if full else "Survival (Kaplan-Meier)")
    tests = result.tables.get("tests")
    subtitle = None
    if show_p and tests is not None and len(tests):
        subtitle = f"log-rank test of dropout: {_att_pfmt(float(tests['p_value'].iloc[0]))}"
    if full:
        ax.text(0.01, 0.02, "Overstates dropout: completers are censored", transform=ax.transAxes, fontsize=7.5,
                style="italic", va="bottom")
    xmax = float(s["time_days"].max()) if len(s) else 1.0
    _att_finish(ax, tab, result, xmax, title or getattr(result, "title", "Kaplan-Meier retention"),
                outside_legend=len(groups) > 1, subtitle=subtitle)
    if len(groups) == 1 and ax.get_legend() is not None:
        ax.get_legend().remove()
    if subtitle:
        ax.title.set_fontsize(9)
    if tab is not None:
        at = result.tables["at_risk"]
        risk_table(at[at["group"].isin(groups)], tab, events="n_cum_dropped_out", events_label="cumulative dropouts")
        ax.set_xlabel("")
        ax.risk_table_ax = tab
    else:
        ax.set_xlabel("Days since programme start")
    return ax


# ---------------------------------------------------------------------------
# risk figures
# ---------------------------------------------------------------------------

__all__ += ["plot_risk_change", "plot_reliable_change", "plot_band_transitions", "plot_risk_trajectory",
            "plot_high_risk_trajectory", "plot_missing_exit"]


def _risk_sum(result, group="all"):
    s = result.summary if hasattr(result, "summary") else result
    if "group" in s.columns:
        s = s[s["group"] == group]
    return s.set_index("statistic")


def plot_risk_change(result, ax=None, *, group="all", max_lines=2000, title=None):
    """Paired slope plot: one faint line per referral from the first to the second score, mean with CI.

    Parameters
    ----------
    result : AnalysisResult
        From :func:`dapp_eval.analyses.risk.change`.
    group : str
        Group of a ``by=`` analysis to draw (default ``"all"``).
    max_lines : int
        Draw at most this many distinct (first, second) score pairs (the most
        frequent ones); each pair is one line whose width and darkness grow
        with the number of referrals sharing it.

    Shows individual scores: pass only to internal readers, or apply
    disclosure control first.
    """
    ax = new_axes(ax, figsize=(5, 5))
    ch = result.tables["changes"]
    by = result.meta.get("by")
    if by and group != "all":
        ch = ch[ch[by].astype(str) == group]
    # identical (from, to) pairs are drawn once, thicker and darker with their count (no random jitter)
    agg = ch.groupby(["score_from", "score_to"]).size().rename("k").reset_index()
    if len(agg) > max_lines:
        agg = agg.nlargest(max_lines, "k")
    kmax = agg["k"].max() if len(agg) else 1
    for a, b, k in zip(agg["score_from"], agg["score_to"], agg["k"]):
        ax.plot([0, 1], [a, b], color=PALETTE[5], alpha=0.15 + 0.6 * k / kmax, lw=0.5 + 3.0 * k / kmax)
    s = _risk_sum(result, group)
    for x, stat in ((0, "mean_from"), (1, "mean_to")):
        if stat in s.index:
            r = s.loc[stat]
            ax.errorbar([x], [r["estimate"]], yerr=[[r["estimate"] - r["ci_lower"]], [r["ci_upper"] - r["estimate"]]],
                        fmt="o", color=PALETTE[0], capsize=6, ms=7, zorder=5)
    if {"mean_from", "mean_to"} <= set(s.index):
        ax.plot([0, 1], [s.loc["mean_from", "estimate"], s.loc["mean_to", "estimate"]], color=PALETTE[0], lw=2.5,
                zorder=4, label=f"mean with {_ci(result)}")
    m = result.meta
    ax.set_xticks([0, 1], [m.get("from_", "from"), m.get("to", "to")])
    ax.set_xlim(-0.3, 1.3)
    ax.set_ylabel(f"{m.get('instrument', 'score')} score ({m.get('informant', '')})")
    n = int(s.loc["n_paired", "n"]) if "n_paired" in s.index else len(ch)
    ax.set_title(title or f"{m.get('instrument', '')}: paired scores (n = {n:,})")
    ax.legend(loc="upper right", frameon=False)
    return ax


def plot_reliable_change(result, ax=None, *, group="all", title=None):
    """Reliable change scatter: first vs second score, the no-change line and the reliable-change band.

    Points on the same pair of scores are drawn once with area proportional
    to their count (no random jitter). Shows individual scores.
    """
    ax = new_axes(ax, figsize=(5.5, 5.5))
    ch = result.tables["changes"]
    by = result.meta.get("by")
    if by and group != "all":
        ch = ch[ch[by].astype(str) == group]
    thr = result.meta["rc_threshold"]
    agg = ch.groupby(["score_from", "score_to", "reliable_change"]).size().rename("k").reset_index()
    styles = {"reliably improved": (PALETTE[3], "v"), "no reliable change": (PALETTE[5], "o"),
              "reliably worse": (PALETTE[6], "^")}
    for cat, (col, mk) in styles.items():
        a = agg[agg["reliable_change"] == cat]
        if len(a):
            ax.scatter(a["score_from"], a["score_to"], s=12 + 14 * a["k"], color=col, marker=mk, alpha=0.75,
                       label=f"{cat} ({int(a['k'].sum()):,})", edgecolor="none")
    lo = min(ch["score_from"].min(), ch["score_to"].min()) if len(ch) else 0
    hi = max(ch["score_from"].max(), ch["score_to"].max()) if len(ch) else 1
    xs = np.array([lo, hi], float)
    ax.plot(xs, xs, color=PALETTE[0], lw=1, label="no change")
    ax.fill_between(xs, xs - thr, xs + thr, color="0.85", zorder=0, label=f"within +/- {thr:.1f} (not reliable)")
    ax.set_xlim(lo - 1, hi + 1)
    ax.set_ylim(lo - 1, hi + 1)
    ax.set_aspect("equal")
    m = result.meta
    ax.set_xlabel(f"{m.get('instrument', '')} at {m.get('from_', '')}")
    ax.set_ylabel(f"{m.get('instrument', '')} at {m.get('to', '')}")
    ax.set_title(title or "Reliable change (Jacobson-Truax)")
    ax.legend(loc="upper left", frameon=False, fontsize=8)
    return ax


def plot_band_transitions(result, ax=None, *, title=None):
    """Heat map of the band at the first vs the second assessment, with counts.

    ``result`` is a :func:`dapp_eval.analyses.risk.band_transitions` result or its
    ``transitions`` table (``band_from, band_to, n``; counts may already be
    suppressed by disclosure control, shown as they are).
    """
    ax = new_axes(ax, figsize=(5, 4.5))
    long = result.tables["transitions"] if hasattr(result, "tables") else result
    order = list(dict.fromkeys(long["band_from"].astype(str)))
    mat = long.assign(n_num=pd_to_numeric(long["n"])).pivot(index="band_from", columns="band_to", values="n_num")
    mat = mat.reindex(index=order, columns=order)
    ax.imshow(mat.to_numpy(float), cmap="Greys", vmin=0)
    vmax = np.nanmax(mat.to_numpy(float)) if mat.size else 0
    lab = long.set_index(["band_from", "band_to"])["n"]
    for i, a in enumerate(order):
        for j, b in enumerate(order):
            v = mat.iloc[i, j]
            ax.text(j, i, _fmt_n(lab.get((a, b), "")), ha="center", va="center",
                    color="white" if vmax and v == v and v > 0.6 * vmax else "black")
    ax.set_xticks(range(len(order)), order)
    ax.set_yticks(range(len(order)), order)
    meta = getattr(result, "meta", {})
    ax.set_xlabel(f"band at {meta.get('to', 'second assessment')}")
    ax.set_ylabel(f"band at {meta.get('from_', 'first assessment')}")
    ax.set_title(title or f"{meta.get('instrument', 'Risk')} band transitions")
    return ax


def pd_to_numeric(s):
    """Numbers from a column that may hold suppressed cells ("<10"): those become NaN."""
    import pandas as pd

    return pd.to_numeric(s, errors="coerce")


def plot_risk_trajectory(result, ax=None, *, title=None):
    """Estimated mean score by timepoint (linear mixed model) with confidence intervals."""
    ax = new_axes(ax)
    s = result.summary
    e = s[s["statistic"] == "emm"]
    x = np.arange(len(e))
    ax.errorbar(x, e["estimate"], yerr=[e["estimate"] - e["ci_lower"], e["ci_upper"] - e["estimate"]],
                fmt="-o", color=PALETTE[1], capsize=5, lw=2)
    labels = [f"{t}\n(n = {_fmt_n(k)})" for t, k in zip(e["timepoint"], e["n"])]
    ax.set_xticks(x, labels)
    m = result.meta
    ax.set_ylabel(f"estimated mean {m.get('instrument', '')} score")
    ax.set_title(title or f"{m.get('instrument', '')} ({m.get('informant', '')}) by timepoint, mixed model")
    return ax


def plot_high_risk_trajectory(result, ax=None, *, title=None):
    """Share of scores in the high-risk band by timepoint, with Wilson intervals."""
    ax = new_axes(ax)
    s = result.summary
    e = s[s["statistic"] == "proportion_high"]
    x = np.arange(len(e))
    ax.errorbar(x, 100 * e["estimate"], yerr=[100 * (e["estimate"] - e["ci_lower"]),
                                              100 * (e["ci_upper"] - e["estimate"])],
                fmt="-s", color=PALETTE[6], capsize=5, lw=2)
    ax.set_xticks(x, [f"{t}\n({_fmt_n(k)} of {_fmt_n(nt)})" for t, k, nt in zip(e["timepoint"], e["n"], e["n_total"])])
    ax.set_ylabel("% high risk")
    ax.set_ylim(0, 100)
    ax.set_title(title or f"High {result.meta.get('instrument', '')} risk by timepoint")
    return ax


def plot_missing_exit(result, ax=None, *, title=None):
    """Tipping-point curve: pooled mean change and CI against the MNAR shift delta, methods marked at 0."""
    ax = new_axes(ax)
    tip = result.tables["tipping"]
    ax.fill_between(tip["delta"], tip["ci_lower"], tip["ci_upper"], color="0.85", label=f"MI, delta-adjusted ({_ci(result)})")
    ax.plot(tip["delta"], tip["estimate"], color=PALETTE[0], lw=1.5)
    ax.axhline(0, color=PALETTE[0], lw=0.8, ls=":")
    s = result.summary
    mc = s[s["statistic"] == "mean_change"]
    offs = {"complete case": -0.15, "inverse probability of attrition weighting": 0.0, "multiple imputation": 0.15}
    for i, (_, r) in enumerate(mc.iterrows()):
        ax.errorbar([offs.get(r["method"], 0.0)], [r["estimate"]],
                    yerr=[[r["estimate"] - r["ci_lower"]], [r["ci_upper"] - r["estimate"]]],
                    fmt=MARKERS[i], color=PALETTE[i + 1], capsize=4, label=r["method"])
    tp = result.meta.get("tipping_point_delta")
    if tp is not None and tp == tp:
        ax.axvline(tp, color=PALETTE[6], ls="--", lw=1, label=f"tipping point: delta = {tp:.2f}")
    ax.set_xlabel("shift of the missing exit scores (points, towards worse)")
    ax.set_ylabel("mean change")
    ax.set_title(title or "Missing exit scores: how far from MAR to overturn the result")
    ax.legend(frameon=False, fontsize=8)
    return ax


# ---------------------------------------------------------------------------
# safety and follow-up figures
# ---------------------------------------------------------------------------


def _sf_table(result, name=None):
    if hasattr(result, "summary"):
        return result.tables[name] if name else result.summary
    return result


def _sf_n(v):
    try:
        return "-" if v != v else f"{int(v):,}"
    except (TypeError, ValueError):
        return str(v)


def plot_prevalence(result, ax=None, *, behaviours=None, title=None):
    """Grouped bars: % of (ex-)partners reporting each behaviour, by wave, with Wilson CIs.

    The legend shows the number answering at each wave (the denominator).
    Takes :func:`dapp_eval.analyses.safety.prevalence` (without ``by``) or its summary.
    """
    import numpy as np

    df = _sf_table(result)
    if behaviours is not None:
        df = df[df["behaviour"].isin(behaviours)]
    labels = list(dict.fromkeys(df["label"]))
    waves = list(dict.fromkeys(df["wave"]))
    ax = new_axes(ax, figsize=(max(7, 1.1 * len(labels) + 2), 4.5))
    width = 0.8 / max(len(waves), 1)
    x = np.arange(len(labels))
    for i, w in enumerate(waves):
        d = df[df["wave"] == w].set_index("label").reindex(labels)
        est = 100 * d["estimate"].to_numpy(dtype=float)
        err = np.vstack([est - 100 * d["ci_lower"].to_numpy(dtype=float), 100 * d["ci_upper"].to_numpy(dtype=float) - est])
        n_txt = _sf_n(d["n_answered"].max())
        ax.bar(x + (i - (len(waves) - 1) / 2) * width, est, width, color=PALETTE[i % len(PALETTE)],
               edgecolor="black", linewidth=0.5, hatch=["", "//", "..", "xx"][i % 4],
               yerr=err, capsize=2, error_kw={"linewidth": 0.8}, label=f"{w} (up to n = {n_txt} answering)")
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=30, ha="right")
    ax.set_ylabel("% of (ex-)partners answering (last 3 months)")
    ax.set_ylim(0, 100)
    ax.legend(frameon=False, fontsize=8)
    ax.set_title(title or f"(Ex-)partner reports by survey wave ({_ci(result)})")
    return ax


def plot_paired_change(result, ax=None, *, title=None):
    """Forest plot: change in percentage points among (ex-)partners answering both waves."""
    import numpy as np

    df = _sf_table(result).iloc[::-1].reset_index(drop=True)
    ax = new_axes(ax, figsize=(7, 0.45 * len(df) + 1.5))
    y = np.arange(len(df))
    for i, r in df.iterrows():
        prim = r.get("role") == "primary"
        ax.errorbar(r["estimate"], i, xerr=[[r["estimate"] - r["ci_lower"]], [r["ci_upper"] - r["estimate"]]],
                    fmt="D" if prim else "o", color=PALETTE[0] if prim else PALETTE[1], capsize=3)
    ax.axvline(0, color="grey", linewidth=0.8, linestyle="--")
    ax.set_yticks(y)
    ax.set_yticklabels([f"{r['label']}{' (primary)' if r.get('role') == 'primary' else ''} (n = {_sf_n(r['n_pairs'])})"
                        for _, r in df.iterrows()], fontsize=8)
    base, fu = (df["baseline"].iloc[0], df["followup"].iloc[0]) if len(df) else ("", "")
    ax.set_xlabel(f"Change {base} to {fu}, percentage points ({_ci(result)})")
    ax.set_title(title or "Change among (ex-)partners who answered both waves")
    return ax


def plot_wave_model(result, ax=None, *, title=None):
    """Model prevalence by wave: unweighted vs inverse-probability-weighted GEE, with CIs."""
    import numpy as np

    df = _sf_table(result)
    ax = new_axes(ax)
    for i, (_fit, d) in enumerate(df.groupby("fit", sort=False)):
        x = np.arange(len(d)) + (i - 0.5) * 0.08
        ax.errorbar(x, 100 * d["estimate"], yerr=[100 * (d["estimate"] - d["ci_lower"]),
                                                   100 * (d["ci_upper"] - d["estimate"])],
                    color=PALETTE[i], linestyle=LINESTYLES[i], marker=MARKERS[i], capsize=3,
                    label=d["label"].iloc[0])
        waves = d["wave"].tolist()
    ax.set_xticks(np.arange(len(waves)))
    ax.set_xticklabels(waves)
    ax.set_ylabel("% reporting (model estimate)")
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False, fontsize=8)
    ax.set_title(title or getattr(result, "title", "Model-based estimates by wave"))
    return ax


def plot_change_views(result, ax=None, *, behaviour=None, title=None):
    """Change in percentage points by view (all respondents, paired, GEE unweighted / weighted)."""
    import numpy as np

    df = _sf_table(result)
    if behaviour is not None:
        df = df[df["behaviour"] == behaviour]
    views = list(dict.fromkeys(df["view"]))
    labels = list(dict.fromkeys(df["label"]))
    ax = new_axes(ax, figsize=(7, 0.5 * len(labels) * max(len(views), 1) / 2 + 1.8))
    step = 0.8 / max(len(views), 1)
    for j, v in enumerate(views):
        d = df[df["view"] == v].set_index("label").reindex(labels)
        y = np.arange(len(labels))[::-1] - (j - (len(views) - 1) / 2) * step
        ax.errorbar(d["estimate"], y, xerr=[d["estimate"] - d["ci_lower"], d["ci_upper"] - d["estimate"]],
                    fmt=MARKERS[j], color=PALETTE[j], capsize=2, linestyle="none", label=v)
    ax.axvline(0, color="grey", linewidth=0.8, linestyle="--")
    ax.set_yticks(np.arange(len(labels))[::-1])
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel(f"Change, percentage points ({_ci(result)})")
    ax.legend(frameon=False, fontsize=8)
    ax.set_title(title or "Change by view: all respondents, paired, model-based")
    return ax


def plot_feeling_safe(result, ax=None, *, title=None):
    """Stacked bars of the 1-5 feeling-safe scale per wave; n answering under each bar."""
    import numpy as np

    df = _sf_table(result)
    waves = list(dict.fromkeys(df["wave"]))
    ax = new_axes(ax)
    bottom = np.zeros(len(waves))
    greys = ["#000000", "#0072B2", "#56B4E9", "#E69F00", "#F0E442"]
    for lev in range(1, 6):
        d = df[df["level"] == lev].set_index("wave").reindex(waves)
        h = 100 * d["estimate"].fillna(0).to_numpy(dtype=float)
        ax.bar(range(len(waves)), h, bottom=bottom, color=greys[lev - 1], edgecolor="black", linewidth=0.5,
               hatch=["xx", "//", "", "..", ""][lev - 1], label=d["label"].iloc[0])
        bottom += h
    n = df.groupby("wave", sort=False)["n_answered"].max().reindex(waves)
    ax.set_xticks(range(len(waves)))
    ax.set_xticklabels([f"{w}\nn = {_sf_n(v)}" for w, v in zip(waves, n)])
    ax.set_ylabel("% of (ex-)partners answering")
    ax.set_ylim(0, 100)
    ax.legend(title="Feels safe", frameon=False, fontsize=8, bbox_to_anchor=(1.01, 1), loc="upper left")
    ax.set_title(title or "How safe (ex-)partners feel, by wave")
    return ax


def plot_space_for_action(result, ax=None, *, title=None):
    """Mean space for action (0-100) per wave with t-intervals."""
    df = _sf_table(result)
    d = df[df["measure"] == "mean"]
    ax = new_axes(ax)
    ax.errorbar(range(len(d)), d["estimate"], yerr=[d["estimate"] - d["ci_lower"], d["ci_upper"] - d["estimate"]],
                marker="o", color=PALETTE[0], capsize=3)
    ax.set_xticks(range(len(d)))
    ax.set_xticklabels([f"{w}\nn = {_sf_n(n)}" for w, n in zip(d["wave"], d["n"])])
    ax.set_ylabel("Space for action, mean (0-100)")
    ax.set_ylim(0, 100)
    ax.set_title(title or f"Space for action by wave ({_ci(result)})")
    return ax


def plot_response_rates(result, ax=None, *, title=None):
    """Survey response rate per wave, by programme status of the person referred."""
    import numpy as np

    df = _sf_table(result)
    waves = list(dict.fromkeys(df["wave"]))
    ax = new_axes(ax)
    for i, (lab, d) in enumerate(df.groupby("status_label", sort=False)):
        d = d.set_index("wave").reindex(waves)
        ax.errorbar(np.arange(len(waves)) + (i - 2) * 0.05, 100 * d["estimate"],
                    yerr=[100 * (d["estimate"] - d["ci_lower"]), 100 * (d["ci_upper"] - d["estimate"])],
                    color=PALETTE[i % len(PALETTE)], linestyle=LINESTYLES[i % len(LINESTYLES)],
                    marker=MARKERS[i % len(MARKERS)], capsize=2, label=lab)
    ax.set_xticks(range(len(waves)))
    ax.set_xticklabels(waves)
    ax.set_ylim(0, 100)
    ax.set_ylabel("% of (ex-)partners answering, once the wave was due")
    ax.legend(title="Person referred", frameon=False, fontsize=8)
    ax.set_title(title or "Who answered each wave")
    return ax


def plot_partner_support(result, ax=None, *, title=None):
    """Horizontal bars of the partner-support proportions (offered, accepted)."""
    df = _sf_table(result)
    d = df[df["estimate"].notna()].iloc[::-1]
    ax = new_axes(ax, figsize=(7, 0.5 * len(d) + 1.5))
    ax.barh(range(len(d)), 100 * d["estimate"], color=PALETTE[1], edgecolor="black",
            xerr=[100 * (d["estimate"] - d["ci_lower"]), 100 * (d["ci_upper"] - d["estimate"])], capsize=3)
    ax.set_yticks(range(len(d)))
    ax.set_yticklabels([f"{m} ({_sf_n(k)} of {_sf_n(n)})" for m, k, n in zip(d["measure"], d["n"], d["n_of"])],
                       fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel("%")
    ax.set_title(title or "Partner support and children")
    return ax


def plot_before_after(result, ax=None, *, title=None):
    """% of people with any incident before vs after, per outcome, with Wilson CIs."""
    import numpy as np

    df = _sf_table(result)
    d = df[(df["measure"] == "any incident") & df["period"].isin(["before", "after"])]
    if len(d.columns) and d.columns[0] not in ("outcome",):
        d = d[d.iloc[:, 0] == d.iloc[0, 0]] if len(d) else d
    labels = list(dict.fromkeys(d["label"]))
    ax = new_axes(ax)
    x = np.arange(len(labels))
    for i, period in enumerate(["before", "after"]):
        dd = d[d["period"] == period].set_index("label").reindex(labels)
        est = 100 * dd["estimate"].to_numpy(dtype=float)
        ax.bar(x + (i - 0.5) * 0.38, est, 0.38, color=PALETTE[i], edgecolor="black", hatch=["", "//"][i],
               # lists, not arrays: matplotlib 3.10.0 reads a one-bar array as a scalar (a NumPy DeprecationWarning)
               yerr=[(est - 100 * dd["ci_lower"].to_numpy(dtype=float)).tolist(),
                     (100 * dd["ci_upper"].to_numpy(dtype=float) - est).tolist()],
               capsize=3, label=f"{period} (n = {_sf_n(dd['n'].max())})")
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=15, ha="right", fontsize=8)
    ax.set_ylabel("% of people with at least one")
    ax.set_ylim(0, 100)
    ax.legend(frameon=False)
    ax.set_title(title or getattr(result, "title", "Before and after"))
    return ax


def plot_time_to_incident(result, ax=None, *, title=None):
    """Kaplan-Meier curves of the proportion with no incident since exit, with numbers at risk."""
    curves = result.tables["curves"]
    summ = result.summary
    gcol = summ.columns[0]
    names = {"completed": "completed", "did_not_complete": "started, did not complete",
             "ongoing": "still attending", "not_started": "did not start"}
    ax = new_axes(ax, figsize=(7, 5))
    for i, (g, d) in enumerate(curves.groupby("group", sort=False)):
        lab = names.get(g, str(g))
        ax.step(d["days"] / (365.25 / 12), 100 * d["estimate"], where="post", color=PALETTE[i % len(PALETTE)],
                linestyle=LINESTYLES[i % len(LINESTYLES)], label=lab)
        ax.fill_between(d["days"] / (365.25 / 12), 100 * d["ci_lower"], 100 * d["ci_upper"], step="post",
                        color=PALETTE[i % len(PALETTE)], alpha=0.12)
    months = sorted(summ["months"].unique())
    ax.set_xlim(0, max(months) if months and max(months) > 0 else None)
    ax.set_ylim(0, 100)
    ax.set_xlabel("Months since exit")
    ax.set_ylabel("% with no incident since exit")
    ax.legend(frameon=False, fontsize=8, loc="lower left")
    lines = ["At risk:"]
    for g, d in summ.groupby(gcol, sort=False):
        lines.append(f"{names.get(g, str(g))}: "
                     + "  ".join(f"{int(m)}m {_sf_n(n)}" for m, n in zip(d["months"], d["n_at_risk"])))
    ax.text(0, -0.18, "\n".join(lines), transform=ax.transAxes, fontsize=7, va="top", family="monospace")
    ax.set_title(title or f"Time to first incident after exit (Kaplan-Meier, {_ci(result)})")
    return ax


def plot_recurrent_contacts(result, ax=None, *, title=None):
    """Mean cumulative number of incidents per person since exit (MCF), by group, with 95% intervals."""
    curves = result.tables["curves"]
    names = {"completed": "completed", "did_not_complete": "started, did not complete", "all": "everyone"}
    ax = new_axes(ax, figsize=(7, 4.5))
    for i, (g, d) in enumerate(curves.groupby("group", sort=False)):
        x = d["days"] / (365.25 / 12)
        ax.step(x, d["estimate"], where="post", color=PALETTE[i % len(PALETTE)],
                linestyle=LINESTYLES[i % len(LINESTYLES)], label=names.get(g, str(g)))
        ax.fill_between(x, d["ci_lower"], d["ci_upper"], step="post", color=PALETTE[i % len(PALETTE)], alpha=0.12)
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("Months since leaving the programme")
    ax.set_ylabel("Mean number of incidents per person")
    if len(curves):
        ax.legend(frameon=False, fontsize=8, loc="upper left")
    from dapp_eval.results import level_text

    level = level_text(result.meta.get("alpha", 0.05))
    ax.set_title(title or f"Incidents since leaving: mean cumulative number per person ({level} CI)")
    return ax


def plot_compare_completers(result, ax=None, *, title=None):
    """% with any incident before and after (aligned windows): completers vs non-completers."""
    import numpy as np

    df = _sf_table(result)
    d = df[(df["measure"] == "any incident") & df["group"].isin(["completed", "did_not_complete"])]
    ax = new_axes(ax)
    for i, (lab, dd) in enumerate(d.groupby("group_label", sort=False)):
        dd = dd.set_index("period").reindex(["before", "after"])
        est = 100 * dd["estimate"].to_numpy(dtype=float)
        ax.bar(np.arange(2) + (i - 0.5) * 0.38, est, 0.38, color=PALETTE[i], edgecolor="black", hatch=["", "//"][i],
               # lists, not arrays: matplotlib 3.10.0 reads a one-bar array as a scalar (a NumPy DeprecationWarning)
               yerr=[(est - 100 * dd["ci_lower"].to_numpy(dtype=float)).tolist(),
                     (100 * dd["ci_upper"].to_numpy(dtype=float) - est).tolist()],
               capsize=3, label=f"{lab} (n = {_sf_n(dd['n'].max())})")
    ax.set_xticks([0, 1])
    ax.set_xticklabels(["before referral", "after (aligned window)"])
    ax.set_ylabel("% with at least one incident")
    ax.set_ylim(0, 100)
    ax.legend(frameon=False, fontsize=8)
    ax.set_title(title or "Completers vs non-completers (not a causal comparison)")
    return ax


def plot_balance(result, ax=None, *, title=None, adjusted="matching"):
    """Love plot: standardised mean differences before and after matching (or ``adjusted="weighting"``)."""
    import numpy as np

    df = _sf_table(result, "balance").iloc[::-1].reset_index(drop=True)
    ax = new_axes(ax, figsize=(7, 0.3 * len(df) + 1.5))
    y = np.arange(len(df))
    ax.scatter(df["smd_before"], y, marker="o", facecolors="none", edgecolors=PALETTE[0], label=f"before {adjusted}")
    ax.scatter(df["smd_after"], y, marker="D", color=PALETTE[1], label=f"after {adjusted}")
    for v in (-0.1, 0.1):
        ax.axvline(v, color="grey", linestyle="--", linewidth=0.8)
    ax.axvline(0, color="black", linewidth=0.6)
    ax.set_yticks(y)
    ax.set_yticklabels(df["covariate"], fontsize=7)
    ax.set_xlabel("Standardised mean difference (programme - comparison)")
    ax.legend(frameon=False, fontsize=8)
    ax.set_title(title or f"Covariate balance before and after {adjusted}")
    return ax


# ---------------------------------------------------------------------------
# comparison of sites
# ---------------------------------------------------------------------------


def plot_site_funnel(result, ax=None, *, title=None):
    """Funnel plot: each site's completion proportion against its size, with inner (plan level) and 99.8% limits.

    Parameters
    ----------
    result : AnalysisResult
        From :func:`dapp_eval.analyses.compare.site_funnel`.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = new_axes(ax)
    lim = result.tables["limits"]
    s = result.summary[result.summary["n"] > 0]
    ax.axhline(lim["pooled"].iloc[0], color=PALETTE[0], lw=1, label="pooled proportion")
    from dapp_eval.results import level_text

    inner = result.meta.get("inner_level") or level_text(result.meta.get("alpha", 0.05))
    ax.plot(lim["n"], lim["limit_inner_lower"], color=PALETTE[1], ls="--", lw=1.2, label=f"{inner} limits")
    ax.plot(lim["n"], lim["limit_inner_upper"], color=PALETTE[1], ls="--", lw=1.2)
    ax.plot(lim["n"], lim["limit_outer_lower"], color=PALETTE[3], ls=":", lw=1.6, label="99.8% limits")
    ax.plot(lim["n"], lim["limit_outer_upper"], color=PALETTE[3], ls=":", lw=1.6)
    models = list(dict.fromkeys(s["programme_model"]))
    for i, m in enumerate(models):
        d = s[s["programme_model"] == m]
        ax.scatter(d["n"], d["estimate"], marker=MARKERS[i % len(MARKERS)], s=60, color=PALETTE[(i + 2) % 8],
                   edgecolor="black", zorder=3, label=f"site ({m.replace('_', '-')})")
        for _, r in d.iterrows():
            ax.annotate(str(r["site_id"]), (r["n"], r["estimate"]), textcoords="offset points", xytext=(6, 4),
                        fontsize=8)
    ax.set_xlabel("People who started with complete follow-up (n)")
    ax.set_ylabel("Proportion who completed within planned length + grace")
    ax.set_ylim(0, 1)
    ax.set_title(title or "Completion by site against site size")
    ax.legend(fontsize=8, loc="lower right")
    return ax


# ---------------------------------------------------------------------------
# commissioner figures: site comparison (dot and whisker) and SPC charts
# ---------------------------------------------------------------------------

__all__ += ["dot_whisker", "spc_chart"]

#: Making Data Count colours: common cause grey, improvement blue, concern orange, neither purple
MDC_COLOURS = {"common": "#7F7F7F", "improvement": "#00B0F0", "concern": "#E46C0A", "neither": "#7030A0"}


def _as_frame(result):
    return result.summary if hasattr(result, "summary") else result


def _sites_and_overall(df, overall, estimate: str):
    """The site rows, and the all-sites value (given, else the ``site_id == "all"`` row's estimate)."""
    if "site_id" in df and (df["site_id"] == "all").any():
        all_row = df[df["site_id"] == "all"].iloc[0]
        if overall is None:
            overall = all_row[estimate]
        df = df[df["site_id"] != "all"]
    return df, overall


def dot_whisker(table, ax=None, *, estimate="estimate", lower="ci_lower", upper="ci_upper", label="site_name",
                group="programme_model", overall=None, overall_label="All sites", percent=True, xlabel=None,
                title=None):
    """Dot-and-whisker chart: one row per site, its estimate and confidence interval, and the all-sites line.

    Sites are told apart by their label on the axis and the programme model by the marker shape (and
    colour), so nothing depends on colour alone.

    Parameters
    ----------
    table : DataFrame or AnalysisResult
        One row per site with ``estimate``, ``ci_lower``, ``ci_upper`` and a label column; a row with
        ``site_id == "all"`` (as :func:`dapp_eval.commissioner.headlines.site_comparison` gives) is drawn as the
        all-sites line instead of a dot.
    ax : matplotlib Axes, optional
    overall : float, optional
        The all-sites value (overrides an ``"all"`` row).
    percent : bool
        Axis in percentages (values are proportions 0-1).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import pandas as pd
    from matplotlib.ticker import PercentFormatter

    df, overall = _sites_and_overall(_as_frame(table).copy(), overall, estimate)
    missing = [c for c in (estimate, lower, upper, label) if c not in df]
    if missing:
        raise ValueError(f"dot_whisker: the table has no column(s) {missing}")
    df = df.reset_index(drop=True)
    ax = new_axes(ax, figsize=(7, 0.55 * len(df) + 1.6))
    y = list(range(len(df)))[::-1]
    groups = list(dict.fromkeys(df[group])) if group in df else [None]
    for i, g in enumerate(groups):
        idx = df.index[df[group] == g] if g is not None else df.index
        first = True
        for j in idx:
            r = df.loc[j]
            est = pd_to_numeric(pd.Series([r[estimate], r[lower], r[upper]]))
            if est.isna().iloc[0]:
                ax.text(0.01, y[j], "not available", va="center", fontsize=8, transform=ax.get_yaxis_transform())
                continue
            colour = PALETTE[(i + 1) % len(PALETTE)]
            ax.plot([est.iloc[1], est.iloc[2]], [y[j], y[j]], color=colour, lw=2, solid_capstyle="butt")
            ax.scatter([est.iloc[0]], [y[j]], marker=MARKERS[i % len(MARKERS)], s=70, color=colour,
                       edgecolor="black", zorder=3,
                       label=(str(g).replace("_", "-") if g is not None and first else None))
            first = False
    if overall is not None and overall == overall:
        ax.axvline(float(overall), color=PALETTE[0], ls="--", lw=1.2,
                   label=f"{overall_label} ({100 * float(overall):.0f}%)" if percent else overall_label)
    import textwrap

    ax.set_yticks(y)
    ax.set_yticklabels([textwrap.fill(str(v), 24) for v in df[label]])
    ax.set_ylim(-0.7, len(df) - 0.3)
    if percent:
        ax.xaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
    ax.set_xlabel(xlabel or "Estimate with its confidence interval")
    ax.grid(axis="x", color="#DDDDDD", lw=0.6)
    ax.set_axisbelow(True)
    if title:
        ax.set_title(title)
    handles, labels_ = ax.get_legend_handles_labels()
    if handles:  # below the axes, so it never hides a site
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=min(len(handles), 3),
                  frameon=False)
    return ax


def _spc_rows(df, measure):
    """The rows of one measure (the only one, or ``measure``), renumbered."""
    if "measure" in df:
        measures = list(dict.fromkeys(df["measure"]))
        if measure is None and len(measures) > 1:
            raise ValueError(f"spc_chart: the table holds several measures {measures}; pass measure=")
        df = df[df["measure"] == (measure or measures[0])]
    if df.empty:
        raise ValueError(f"spc_chart: no rows for measure {measure!r}")
    return df.reset_index(drop=True)


def _spc_point_kind(partial: bool, special: bool, direction, higher_is_better) -> tuple:
    """How a quarter's dot is drawn: hollow when partial, a coloured triangle when special cause, else plain."""
    if partial:
        return (("marker", "o"), ("s", 40), ("facecolor", "white"), ("edgecolor", MDC_COLOURS["common"]),
                ("zorder", 3))
    if not special:
        return (("marker", "o"), ("s", 30), ("color", MDC_COLOURS["common"]), ("zorder", 3))
    high = str(direction).startswith("high")
    if higher_is_better is None:
        colour = MDC_COLOURS["neither"]
    else:
        colour = MDC_COLOURS["improvement" if high == bool(higher_is_better) else "concern"]
    return (("marker", "^" if high else "v"), ("s", 80), ("color", colour), ("edgecolor", "black"), ("zorder", 4))


def spc_chart(result, ax=None, *, measure=None, higher_is_better=None, title=None, percent=None):
    """Statistical process control chart in NHS England "Making Data Count" style.

    Grey line and dots for the values, solid centre line, dashed process limits; special-cause points
    are marked by shape as well as colour (triangle up = unusually high, triangle down = unusually low;
    blue = improvement, orange = concern, purple where neither direction is better); partial quarters
    are hollow and labelled.

    Parameters
    ----------
    result : AnalysisResult or DataFrame
        From :func:`dapp_eval.analyses.trends.quarterly_spc` (pick one ``measure``), or one chart from
        :func:`dapp_eval.analyses.trends.xmr` / :func:`dapp_eval.analyses.trends.p_chart` with a ``quarter`` column.
    ax : matplotlib Axes, optional
    measure : str, optional
        Which measure to draw when the table holds several.
    higher_is_better : bool or None
        Colours special causes as improvement / concern; None = neither.
    percent : bool, optional
        Axis as percentages; default: True for a p-chart.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import pandas as pd
    from matplotlib.lines import Line2D
    from matplotlib.ticker import PercentFormatter

    df = _spc_rows(_as_frame(result), measure)
    ax = new_axes(ax, figsize=(8, 4))
    x = list(range(len(df)))
    v = pd_to_numeric(df["value"])
    partial = df["partial"].astype(bool) if "partial" in df else pd.Series(False, index=df.index)
    ax.plot(x, df["centre"], color="#231F20", lw=1.2)
    ax.plot(x, df["upper_limit"], color="#7F7F7F", ls="--", lw=1.2)
    ax.plot(x, df["lower_limit"], color="#7F7F7F", ls="--", lw=1.2)
    # the line joins complete quarters only: a partial quarter's value is incomplete, not a fall
    ax.plot(x, v.where(~partial), color=MDC_COLOURS["common"], lw=1.5, zorder=2)
    special = df["special_cause"].astype(bool) if "special_cause" in df else pd.Series(False, index=df.index)
    direction = df["direction"] if "direction" in df else pd.Series("", index=df.index)
    points: dict[tuple, list] = {}  # one scatter per kind of point (a collection per point is slow to draw)
    for i in x:
        if not pd.isna(v.iloc[i]):
            kind = _spc_point_kind(bool(partial.iloc[i]), bool(special.iloc[i]), direction.iloc[i], higher_is_better)
            points.setdefault(kind, []).append(i)
    for kind, at in points.items():
        ax.scatter(at, [v.iloc[i] for i in at], **dict(kind))
    ax.set_xticks(x)
    ax.set_xticklabels([str(q) + (" (part)" if p else "") for q, p in zip(df["quarter"], partial)], rotation=45,
                       ha="right", fontsize=8)
    is_p = percent if percent is not None else ("chart" in df and str(df["chart"].iloc[0]) == "p-chart")
    if is_p:
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
        ax.set_ylim(bottom=0)
    else:
        ax.set_ylim(bottom=0)
    name = str(df["name"].iloc[0]) if "name" in df else "Value"
    ax.set_ylabel("Percentage" if is_p else "Number")
    ax.set_title(title or name)
    special_colour = MDC_COLOURS["neither"] if higher_is_better is None else MDC_COLOURS["improvement"]
    handles = [Line2D([], [], color=MDC_COLOURS["common"], marker="o", label="quarter"),
               Line2D([], [], color="#231F20", label="average (centre line)"),
               Line2D([], [], color="#7F7F7F", ls="--", label="process limits"),
               Line2D([], [], color=special_colour, marker="^", ls="", markeredgecolor="black",
                      label="unusual variation (high)"),
               Line2D([], [], color=special_colour if higher_is_better is None else MDC_COLOURS["concern"],
                      marker="v", ls="", markeredgecolor="black", label="unusual variation (low)")]
    if partial.any():
        handles.append(Line2D([], [], color=MDC_COLOURS["common"], marker="o", markerfacecolor="white", ls="",
                              label="part quarter (not in the limits)"))
    ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=3, frameon=False)
    return ax

"""This year against last (dapp_eval.analyses.yearly, issue 29): closed-form numbers and properties."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dapp_eval.analyses.yearly import READINGS, year_on_year
from dapp_eval.errors import AnalysisError


def _quarters(rows):
    return pd.DataFrame(rows, columns=["quarter", "partial", "n_numerator", "n_denominator"])


def _wilson(k, n, z):
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_proportions_give_newcombes_published_interval():
    # Newcombe (1998, Stat Med 17:873) example (a): 56/70 against 48/80 is 0.2000 (95% CI 0.0524 to 0.3339);
    # here each year's counts are spread over two quarters
    q = _quarters([("2023/24 Q1", False, 20, 40), ("2023/24 Q2", False, 28, 40),
                   ("2024/25 Q1", False, 30, 35), ("2024/25 Q2", False, 26, 35)])
    r = year_on_year(q, kind="proportion", alpha=0.05)
    assert (r["this_year"], r["last_year"], r["quarters"]) == ("2024/25", "2023/24", "Q1-Q2")
    assert (r["k_this"], r["n_this"], r["k_last"], r["n_last"]) == (56, 70, 48, 80)
    assert round(r["difference"], 4) == 0.2 and round(r["ci_lower"], 4) == 0.0524 and round(r["ci_upper"], 4) == 0.3339
    assert r["reading"] == "higher than last year, beyond chance" and r["beyond_chance"]


def test_the_interval_is_at_the_plans_alpha():
    q = _quarters([("2023/24 Q1", False, 48, 80), ("2024/25 Q1", False, 56, 70)])
    z = 1.6448536269514722  # alpha 0.1
    l1, u1 = _wilson(56, 70, z)
    l0, u0 = _wilson(48, 80, z)
    d = 56 / 70 - 48 / 80
    r = year_on_year(q, kind="proportion", alpha=0.1)
    # the same closed form in the same order of operations: only last-bit rounding can differ
    assert r["ci_lower"] == pytest.approx(d - math.sqrt((56 / 70 - l1) ** 2 + (u0 - 48 / 80) ** 2), abs=1e-12)
    assert r["ci_upper"] == pytest.approx(d + math.sqrt((u1 - 56 / 70) ** 2 + (48 / 80 - l0) ** 2), abs=1e-12)
    assert r["ci_this"] == pytest.approx((l1, u1), abs=1e-12)


def test_counts_use_the_poisson_difference():
    q = _quarters([(f"2023/24 Q{i}", False, 25, None) for i in range(1, 5)]
                  + [(f"2024/25 Q{i}", False, 30, None) for i in range(1, 5)])
    r = year_on_year(q, kind="count")
    half = 1.959963984540054 * math.sqrt(120 + 100)  # 29.07
    assert (r["this"], r["last"], r["difference"]) == (120, 100, 20)
    assert (r["ci_lower"], r["ci_upper"]) == pytest.approx((20 - half, 20 + half), abs=1e-9)
    assert r["reading"] == "no clear change" and r["quarters"] == "Q1-Q4"
    fall = year_on_year(q.assign(n_numerator=[40] * 4 + [25] * 4), kind="count")
    assert fall["difference"] == -60 and fall["ci_upper"] < 0 and fall["reading"] == "lower than last year, beyond chance"


def test_only_quarters_complete_and_published_in_both_years_are_compared():
    # the latest year has Q1-Q2 complete (Q3's cohort still open, Q4 a part quarter); last year's Q3 is withheld
    q = _quarters([("2023/24 Q1", False, 40, 50), ("2023/24 Q2", False, 40, 50), ("2023/24 Q3", False, None, 50),
                   ("2023/24 Q4", False, 40, 50), ("2024/25 Q1", False, 45, 50), ("2024/25 Q2", False, 45, 50),
                   ("2024/25 Q3", False, None, 50), ("2024/25 Q4", True, 10, 12), ("2025/26 Q1", True, 5, 8)])
    r = year_on_year(q, kind="proportion")
    assert (r["quarters"], r["k_this"], r["n_this"], r["k_last"], r["n_last"]) == ("Q1-Q2", 90, 100, 80, 100)
    gap = q.copy()
    gap.loc[gap["quarter"] == "2023/24 Q2", "n_numerator"] = None
    assert year_on_year(gap, kind="proportion")["quarters"] == "Q1"
    with pytest.raises(AnalysisError, match="no financial year to compare"):
        year_on_year(q[q["quarter"].str.startswith("2024/25")], kind="proportion")
    with pytest.raises(ValueError, match="kind"):
        year_on_year(q, kind="rate")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), min_size=2, max_size=8),
       st.sampled_from([0.05, 0.1, 0.01]))
def test_reading_agrees_with_the_interval(pairs, alpha):
    rows = []
    for i, (k, extra) in enumerate(pairs):
        fy = 2022 + i // 4
        rows.append((f"{fy}/{(fy + 1) % 100:02d} Q{i % 4 + 1}", False, k, k + extra + 1))
    q = _quarters(rows)
    try:
        r = year_on_year(q, kind="proportion", alpha=alpha)
    except AnalysisError:
        assert len(pairs) <= 4  # one financial year only
        return
    assert r["ci_lower"] <= r["difference"] <= r["ci_upper"]
    assert r["difference"] == pytest.approx(r["this"] - r["last"])
    assert r["reading"] == (READINGS[0] if r["ci_lower"] > 0 else READINGS[1] if r["ci_upper"] < 0 else READINGS[2])

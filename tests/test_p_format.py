"""One p-value format (issue 30): the notebook view, the reader's tables, figures and the release agree.

The three places that used to format p-values each their own way
(``results.stable_digits``: 2 significant digits; ``formatting.p_value``: 3
decimals; ``report.format.publish_value``: a rounded number shown as "0.72"
beside "0.479", and "<0.001") all go through :func:`dapp_eval.formatting.format_p`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dapp_eval.analyses.plotting import _att_pfmt
from dapp_eval.formatting import format_p, p_value
from dapp_eval.report.format import publish_value
from dapp_eval.results import stable_digits

ROOT = Path(__file__).resolve().parents[1]
P_TEXT = re.compile(r"^(< 0\.001|0\.\d{3}|1\.000)$")


@pytest.mark.parametrize(("p", "text"), [(0.0482, "0.048"), (0.5, "0.500"), (0.72, "0.720"), (1.0, "1.000"),
                                         (0.001, "0.001"), (0.00099, "< 0.001"), (3.1e-26, "< 0.001"),
                                         (0.0, "< 0.001")])
def test_format_p_named_values(p, text):
    assert format_p(p) == text
    assert format_p(p, prefix=True) == ("p < 0.001" if text.startswith("<") else f"p = {text}")


@given(st.floats(min_value=0.0, max_value=1.0, allow_nan=False))
def test_every_call_site_writes_the_same_text(p):
    expected = format_p(p)
    assert P_TEXT.match(expected)
    assert p_value(p) == expected
    assert publish_value(p, "p_value") == expected
    assert publish_value(p, "p_adjusted") == expected
    assert stable_digits(pd.DataFrame({"p_value": [p]}))["p_value"].iloc[0] == expected
    assert _att_pfmt(p) == format_p(p, prefix=True)
    # the text is the number rounded to 3 decimals (or below the floor)
    if p >= 0.001:
        assert abs(float(expected) - p) <= 0.0005 + 1e-12


def test_missing_and_out_of_range():
    assert format_p(float("nan")) == "" and format_p(None) == "" and format_p(np.nan, missing="n/a") == "n/a"
    with pytest.raises(ValueError, match="between 0 and 1"):
        format_p(1.5)


def _p_cells(page: str) -> list[str]:
    """Text of every cell under a p-value column header in the page's tables."""
    out = []
    for table in re.findall(r"<table.*?</table>", page, re.S):
        heads = [re.sub(r"<[^>]+>", "", h).strip() for h in re.findall(r"<th[^>]*>(.*?)</th>", table, re.S)]
        cols = [i for i, h in enumerate(heads) if h.lower().startswith("p-value")]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S):
            cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
            out += [cells[i].replace("&lt;", "<").strip() for i in cols if i < len(cells)]
    return out


def test_the_release_shows_one_p_value_format():
    pages = sorted((ROOT / "reports").glob("*.html"))
    assert pages
    cells = [c for page in pages for c in _p_cells(page.read_text(encoding="utf-8"))]
    shown = [c for c in cells if c not in ("", "[c]")]
    assert shown, "no p-value shown in the release"
    assert all(P_TEXT.match(c) for c in shown), sorted({c for c in shown if not P_TEXT.match(c)})
    # running text and figure notes: "p = 0.048" / "p < 0.001", never "p=0.05" or "<0.001"
    text = " ".join(page.read_text(encoding="utf-8") for page in pages)
    for m in re.finditer(r"\bp ?(=|&lt;|<) ?(\d[\d.]*)", text):
        assert re.fullmatch(r"p (= (0\.\d{3}|1\.000)|(&lt;|<) 0\.001)", m.group(0)), m.group(0)
    assert "&lt;0.001" not in text

"""Shared statistics against closed forms and published values."""

from __future__ import annotations

import numpy as np
import pytest

from dapp_eval.estimators.proportions import holm, wilson_ci


def test_holm_closed_form():
    # Holm (1979): sort p, multiply the i-th smallest by (m - i + 1), take running maxima, cap at 1
    p = [0.01, 0.04, 0.03, 0.2]
    # 0.01*4 = 0.04; 0.03*3 = 0.09; 0.04*2 = 0.08 -> max(0.09, 0.08) = 0.09; 0.2*1 = 0.2
    assert holm(p).tolist() == pytest.approx([0.04, 0.09, 0.09, 0.2])
    assert holm([0.5, 0.6]).tolist() == pytest.approx([1.0, 1.0])
    out = holm([0.01, np.nan, 0.02])
    assert np.isnan(out[1]) and out[[0, 2]].tolist() == pytest.approx([0.02, 0.02])   # NaN not counted in m
    # ties and order: R's p.adjust(c(0.5, 0.02, NA, 0.02), "holm") gives 0.5, 0.06, NA, 0.06
    out = holm([0.5, 0.02, np.nan, 0.02])
    # exact arithmetic on the inputs (3 * 0.02, then a running maximum): 1 ulp of a double
    assert out[[0, 1, 3]].tolist() == pytest.approx([0.5, 0.06, 0.06], rel=1e-15) and np.isnan(out[2])


@pytest.mark.parametrize(("k", "n", "lo", "hi"), [
    # Newcombe (1998), Statistics in Medicine 17:857-872, Table I, method 3 (Wilson score)
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
])
def test_wilson_against_newcombe_1998(k, n, lo, hi):
    a, b = wilson_ci(k, n)
    # published to 4 decimals: one unit of the last digit (half a unit would do; measured 4.5e-5)
    assert float(a) == pytest.approx(lo, abs=1e-4) and float(b) == pytest.approx(hi, abs=1e-4)


def test_wilson_edge_cases():
    lo, hi = wilson_ci([0, 5, 3], [0, 5, 10])
    assert np.isnan(lo[0]) and np.isnan(hi[0])
    assert hi[1] == 1.0 and lo[2] > 0

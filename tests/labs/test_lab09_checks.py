"""Lab 09's weighted split without a cluster: the band of green answers a 90/10 route gives, and
the chance an even split lands in it, both from the binomial distribution."""

from __future__ import annotations

import math
import sys

from labcheck.checks.kinds.python import load_lab_functions
from labcheck.loader import find_lab

LAB = find_lab("09")
load_lab_functions(LAB.folder)
checks = sys.modules["labcheck_lab_09_ingress_and_gateway"]


def binomial(requests: int, p: float, k: int) -> float:
    return math.comb(requests, k) * p ** k * (1 - p) ** (requests - k)


def test_the_band_holds_a_true_split_but_for_the_stated_error_and_an_even_split_almost_never():
    low, high, even_lands = checks._acceptable(200, 0.1, 0.5)
    outside = sum(binomial(200, 0.1, k) for k in range(201) if not low <= k <= high)
    assert outside < 1e-6  # a right route fails less than once in a million
    assert 0 < low < 20 < high < 100
    assert math.isclose(even_lands, sum(binomial(200, 0.5, k) for k in range(low, high + 1)), rel_tol=1e-9)
    assert even_lands < 1e-6


def test_a_rival_close_to_the_share_is_said_to_land_in_the_band():
    *_band, close = checks._acceptable(200, 0.1, 0.12)
    assert close > 0.5  # too few requests to tell 10 % from 12 %: the figure says so instead of a fixed claim

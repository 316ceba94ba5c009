"""Billing arithmetic (SPEC §2.2): seconds rounded up, minutes rounded up, 5-place amounts."""

from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from control.metering import bill, forked_ms, total


@pytest.mark.parametrize("ms, seconds, rounded, amount", [
    (0, 0, 0, "0.00000"),
    (1, 1, 60, "0.00300"),
    (1000, 1, 60, "0.00300"),
    (1001, 2, 60, "0.00300"),
    (60_000, 60, 60, "0.00300"),
    (60_001, 61, 120, "0.00600"),
    (3_599_999, 3600, 3600, "0.18000"),
])
def test_bill_rounds_seconds_then_minutes_up(ms, seconds, rounded, amount):
    b = bill(ms, Decimal("0.003"))
    assert (b.bill_duration, b.rounded_bill_duration, str(b.billed_amount), str(b.rate)) == \
        (seconds, rounded, amount, "0.00300")


@given(st.integers(0, 10**9), st.decimals(0, 100, places=5))
def test_bill_invariants(ms, rate):
    b = bill(ms, rate)
    assert b.bill_duration * 1000 >= ms > (b.bill_duration - 1) * 1000 or ms == 0
    assert b.rounded_bill_duration % 60 == 0
    assert 0 <= b.rounded_bill_duration - b.bill_duration < 60
    assert b.billed_amount == rate * (b.rounded_bill_duration // 60)
    assert b.billed_amount.as_tuple().exponent == -5


def test_forked_ms_and_totals():
    assert forked_ms(None, 5) == 0 and forked_ms(1_000_000, 3_500_000) == 2500
    rows = [bill(61_000, Decimal("0.003")).columns(), bill(500, Decimal("0.01")).columns()]
    assert total(rows) == {"streams": 2, "bill_duration": 62, "rounded_bill_duration": 180,
                           "billed_amount": "0.01600"}

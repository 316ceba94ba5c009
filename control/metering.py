"""Metering (SPEC §2.2): what a stream is billed, from the audio it forked.

    bill_duration          = whole seconds of audio forked, rounded up
                             (first media frame sent to the end; 0 if no frame was sent)
    rounded_bill_duration  = bill_duration rounded up to whole minutes, in seconds
    billed_amount          = rounded minutes x the account's per-minute rate, 5 places

A live stream's forked time is checkpointed to the store every `checkpoint_interval_s`
(default 10 s), so a crash loses at most that much billing: on restart the stream is closed
at its last checkpoint and billed up to it (service.py, recovery).
"""

from __future__ import annotations

import dataclasses
from decimal import ROUND_HALF_UP, Decimal

AMOUNT_PLACES = Decimal("0.00001")


@dataclasses.dataclass(frozen=True)
class Bill:
    bill_duration: int          # seconds
    rounded_bill_duration: int  # seconds, a multiple of 60
    billed_amount: Decimal      # 5 places
    rate: Decimal               # per minute, 5 places

    def columns(self) -> dict:
        """The store's columns (decimals as strings)."""
        return {"bill_duration": self.bill_duration,
                "rounded_bill_duration": self.rounded_bill_duration,
                "billed_amount": str(self.billed_amount), "rate": str(self.rate)}


def bill(forked_ms: int, rate_per_minute: Decimal) -> Bill:
    seconds = -(-max(0, forked_ms) // 1000)
    minutes = -(-seconds // 60)
    rate = rate_per_minute.quantize(AMOUNT_PLACES, rounding=ROUND_HALF_UP)
    amount = (rate * minutes).quantize(AMOUNT_PLACES, rounding=ROUND_HALF_UP)
    return Bill(seconds, minutes * 60, amount, rate)


def forked_ms(start_us: int | None, end_us: int | None) -> int:
    """Audio time forked between the first frame (start) and `end` (both epoch µs)."""
    if start_us is None or end_us is None:
        return 0
    return max(0, (end_us - start_us) // 1000)


def total(rows) -> dict:
    """Usage totals over stream rows (bill columns as the store holds them)."""
    amount = sum((Decimal(r["billed_amount"]) for r in rows), Decimal("0"))
    return {"streams": len(rows),
            "bill_duration": sum(r["bill_duration"] for r in rows),
            "rounded_bill_duration": sum(r["rounded_bill_duration"] for r in rows),
            "billed_amount": str(amount.quantize(AMOUNT_PLACES))}

"""The per-stream budget of checkpoint-played and clear reports (report_budget.py)."""

from mediacore.engine.report_budget import BURST, RATE, ReportBudget


def test_a_burst_then_the_rate():
    budget = ReportBudget(now=5.0)
    assert all(budget.take(5.0) for _ in range(BURST))
    assert not budget.take(5.0) and not budget.take(5.0)
    assert budget.suppressed == 2
    # half a second regains RATE / 2 reports, no more
    assert sum(budget.take(5.5) for _ in range(BURST)) == RATE / 2
    assert budget.suppressed == 2 + BURST - RATE / 2


def test_the_budget_never_holds_more_than_the_burst():
    budget = ReportBudget(now=0.0)
    assert sum(budget.take(3600.0) for _ in range(2 * BURST)) == BURST


def test_an_agent_with_a_mark_every_20_ms_is_never_limited():
    budget = ReportBudget(now=0.0)
    assert all(budget.take(n * 0.020) for n in range(100_000))  # 2,000 s of marks


def test_the_server_is_told_at_most_once_a_second():
    budget = ReportBudget(now=0.0)
    assert budget.warn_now(10.0)
    assert not budget.warn_now(10.5)
    assert not budget.warn_now(10.999)
    assert budget.warn_now(11.0)


def test_the_message_names_the_limits_and_the_count():
    assert ReportBudget.message(7) == (
        "too many checkpoints played and clears: at most 1000 at once and 100 a second are "
        "reported as status callbacks, and this stream's are over that (7 not reported so "
        "far; the playedStream and clearedAudio replies are still sent)")

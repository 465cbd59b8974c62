"""The breaker board tells its hook each change of state once, as it happens (the
`unigate_breaker_transitions_total` counter): a call that lands in the state it found is no
change, whatever it did to the breaker's timers."""

from __future__ import annotations

from proxy.dispatch.breakers import BreakerBoard
from schemas.config import BreakerConfig
from schemas.errors import Code

KEY = ("openai", "gpt-4o-mini")


def _board() -> tuple[BreakerBoard, list[float], list[tuple[str, str]]]:
    board = BreakerBoard(BreakerConfig(consecutive_failures=2, open_seconds=10, max_open_seconds=40))
    clock = [100.0]
    board._now = lambda: clock[0]  # a clock the test moves
    told: list[tuple[str, str]] = []
    board.watch(lambda target, to: told.append((target, to)))
    return board, clock, told


def test_open_probe_reopen_probe_close() -> None:
    board, clock, told = _board()
    board.record(KEY, None)
    board.record(KEY, Code.SERVER_ERROR)
    assert told == [], "closed, still closed: one failure of two"
    board.record(KEY, Code.TIMEOUT)
    assert told == [("openai", "open")]
    board.record(KEY, Code.CONNECTION)  # a call that was in flight when it opened fails too
    assert told == [("openai", "open")], "open, still open: no change"
    assert not board.allows(KEY)
    clock[0] += 9.9
    assert not board.allows(KEY)
    clock[0] += 0.2  # open for its 10 s: the late failure neither extended nor doubled it
    assert board.allows(KEY)
    assert not board.allows(KEY), "one probe at a time"
    assert told[1:] == [("openai", "half_open")]
    board.record(KEY, Code.AUTHENTICATION)  # the probe's caller was at fault: says nothing
    assert board.allows(KEY), "another probe goes"
    assert told[1:] == [("openai", "half_open")], "half-open, still half-open"
    board.record(KEY, Code.OVERLOADED)
    assert told[2:] == [("openai", "open")]
    clock[0] += 41
    assert board.allows(KEY)
    board.record(KEY, None)
    assert told[3:] == [("openai", "half_open"), ("openai", "closed")]
    board.record(KEY, None)
    assert len(told) == 5


def test_targets_are_told_apart_and_no_hook_is_no_error() -> None:
    board, _, told = _board()
    pool = ("pool:gpu", "llama")
    for _ in range(2):
        board.record(pool, Code.SERVER_ERROR)
    assert told == [("pool:gpu", "open")]
    quiet = BreakerBoard(BreakerConfig(consecutive_failures=1))
    quiet.record(KEY, Code.SERVER_ERROR)
    assert dict(quiet.states()) == {"openai": "open"}

"""Waiting for a result: ``Ticket.result(timeout=)`` wakes on the store's change waiter (PostgreSQL: LISTEN on
the finished channel; SQLite: data_version) when the order finishes, and ``kitchen ticket N --wait``."""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

import pytest

from kitchen import GiveUp, Kitchen, OrderBurnt, OrderCancelled, Ticket, recipe
from kitchen.cli import main
from kitchen.protocol.kitchen import RESULT_RECHECK
from tests.support.waiting import wait_for


@recipe
def res_double(n: int) -> int:
    return 2 * n


@recipe
def res_refuse(why: str) -> None:
    raise GiveUp(why)


def waiting(k: Kitchen, number: int, timeout: float) -> tuple[threading.Thread, dict[str, Any]]:
    """Wait for a result on another thread, as a user's process would; what it got and when."""
    got: dict[str, Any] = {}

    def run() -> None:
        try:
            got["value"] = k.result(number, timeout)
        except Exception as exc:
            got["error"] = exc
        finally:
            k.release_thread()  # this thread's connection: closed here, not left to the garbage collector
        got["at"] = time.monotonic()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, got


def test_result_returns_at_once_when_the_order_is_done(kitchen: Kitchen) -> None:
    t = res_double.submit(kitchen, n=21)
    kitchen.cook_all()
    assert t.result(timeout=0) == 42 and t.result() == 42
    assert dataclasses.asdict(t) == {"number": t.number, "bucket": t.bucket, "duplicate": False}, "the ticket alone"
    assert t == Ticket(t.number, t.bucket) and kitchen.result(t.number) == 42
    with pytest.raises(RuntimeError):
        Ticket(t.number, t.bucket).result()


def test_result_wakes_when_the_order_finishes_not_at_a_poll(open_kitchen) -> None:
    """The waiter re-reads only every RESULT_RECHECK seconds on its own: returning well before that means the
    finish itself woke it (on PostgreSQL, a NOTIFY on the finished channel from another connection)."""
    producer, cook = open_kitchen(), open_kitchen()
    t = res_double.submit(producer, n=5)
    reads: list[str] = []
    real_ticket = producer.ticket

    def ticket(number: int) -> Any:
        info = real_ticket(number)
        reads.append(info.state)
        return info

    producer.ticket = ticket  # type: ignore[method-assign]  # see when the waiter has read (armed) once
    thread, got = waiting(producer, t.number, 30.0)
    wait_for(lambda: reads, what="the waiter's first read")
    assert reads == ["queued"] and not got, "armed, read 'queued', now waiting"
    cook.cook_all()
    cooked = time.monotonic()
    thread.join(RESULT_RECHECK + 10)
    assert got.get("value") == 10, got
    assert got["at"] - cooked < RESULT_RECHECK / 2, "woken by the finish, not by the periodic re-read"


def test_result_of_a_burnt_order_raises_order_burnt_with_the_stored_error(kitchen: Kitchen) -> None:
    t = res_refuse.submit(kitchen, why="card refused")
    kitchen.cook_all()
    with pytest.raises(OrderBurnt) as caught:
        t.result(timeout=5)
    assert caught.value.ticket == t.number and caught.value.error == "GiveUp: card refused"
    assert "Traceback" in caught.value.traceback and "card refused" in str(caught.value)


def test_result_times_out_and_a_cancelled_order_raises(kitchen: Kitchen) -> None:
    t = res_double.submit(kitchen, n=1)
    started = time.monotonic()
    with pytest.raises(TimeoutError) as caught:
        t.result(timeout=0.3)
    assert 0.3 <= time.monotonic() - started < RESULT_RECHECK, "waited its timeout, no more"
    assert "still queued after 0.3s" in str(caught.value)
    assert kitchen.cancel(t.number) is True
    with pytest.raises(OrderCancelled):
        t.result(timeout=5)


def test_kitchen_ticket_wait(kitchen: Kitchen, backend_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    done, burnt, waits = (res_double.submit(kitchen, n=4), res_refuse.submit(kitchen, why="no"),
                          res_double.submit(kitchen, n=9, delay=3600))
    kitchen.cook_all()
    assert main(["--db", backend_url, "ticket", str(done.number), "--wait", "--timeout", "5"]) == 0
    assert "result: 8" in capsys.readouterr().out
    assert main(["--db", backend_url, "ticket", str(burnt.number), "--wait"]) == 1
    assert "error: GiveUp: no" in capsys.readouterr().out
    assert main(["--db", backend_url, "ticket", str(waits.number), "--wait", "--timeout", "0.2"]) == 1
    captured = capsys.readouterr()
    assert "still queued after 0.2s" in captured.err and "queued" in captured.out
    assert main(["--db", backend_url, "ticket", str(done.number), "--wait", "--json"]) == 0
    assert '"result": 8' in capsys.readouterr().out
    with pytest.raises(SystemExit) as usage:
        main(["--db", backend_url, "ticket", str(done.number), "--timeout", "1"])
    assert usage.value.code == 2 and "--timeout needs --wait" in capsys.readouterr().err

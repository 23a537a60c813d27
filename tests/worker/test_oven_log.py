"""Logs that cost nothing: per-order lines at DEBUG with typed fields, an INFO summary, JSON fields and
tracebacks, formatting on a writer thread, and no handler of kitchen's when the application has its own."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterator

import pytest

from kitchen import FrozenClock, Kitchen
from kitchen.cli import logs
from kitchen.ovens.oven_log import FIELDS
from kitchen.ovens.procs import fork_oven
from kitchen.ovens.recipes import Menu, build_menu
from kitchen.ovens.worker import Worker
from tests.support.shop import Shop
from tests.support.waiting import wait_for


@pytest.fixture
def kitchen(backend_url: str) -> Iterator[Kitchen]:
    k = Kitchen.open(backend_url, clock=FrozenClock(), max_attempts=2, backoff_base=1, backoff_max=1)
    yield k
    k.close()


def boom(ctx: object) -> None:
    raise ValueError("too cold")


def menu() -> Menu:
    m = build_menu({"margherita": 0.0}, base=Menu())
    m.register("boom", boom)
    return m


def cook(worker: Worker) -> None:
    while worker.tick() == "cooked":
        pass


def test_per_order_lines_are_debug_with_fields_and_info_gets_a_summary(
        kitchen: Kitchen, caplog: pytest.LogCaptureFixture) -> None:
    kitchen.submit_many([{"recipe": "margherita"}] * 5 + [{"recipe": "boom"}])
    worker = Worker(kitchen, "oven-1", menu(), prefetch=2)
    with caplog.at_level(logging.INFO, logger="kitchen"):
        cook(worker)
    info = [r for r in caplog.records if r.levelno == logging.INFO and getattr(r, "event", None) == "done"]
    assert info == [], "no per-order INFO line"
    failed = [r for r in caplog.records if getattr(r, "event", None) == "retry"]
    assert len(failed) == 1 and failed[0].levelno == logging.WARNING
    assert "ValueError: too cold" in failed[0].traceback and "Traceback" in failed[0].traceback, "the stored one"
    assert (failed[0].recipe, failed[0].attempt, failed[0].oven) == ("boom", 1, "oven-1")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="kitchen"):
        line = worker.events.summary(kitchen)
    assert line is not None and line.startswith("oven-1 cooked 5 in ") and ", 1 retried, 0 burnt, 0 refused," in line
    assert [r.getMessage() for r in caplog.records] == [line]
    assert worker.events.summary(kitchen) is None, "nothing since: no line"
    kitchen.submit("margherita")
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="kitchen"):
        cook(worker)
    done = [r for r in caplog.records if getattr(r, "event", None) == "done"]
    assert len(done) == 1 and done[0].levelno == logging.DEBUG
    assert {name: getattr(done[0], name) for name in FIELDS} == {
        "order": 7, "recipe": "margherita", "attempt": 1, "oven": "oven-1", "event": "done"}


def test_oldest_waiting_is_the_next_ready_orders_wait(kitchen: Kitchen) -> None:
    clock = kitchen.clock
    assert isinstance(clock, FrozenClock)
    assert kitchen.oldest_waiting() is None
    kitchen.submit("margherita")
    kitchen.submit("margherita", delay=100)
    clock.advance(2.5)
    assert kitchen.oldest_waiting() == pytest.approx(2.5)


def record(event: str | None = None, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("too cold")
        except ValueError:
            exc_info = sys.exc_info()
    extra = {"order": 3, "recipe": "boom", "attempt": 2, "oven": "oven-1", "event": event} if event else {}
    r = logging.LogRecord("kitchen.oven", logging.WARNING, __file__, 1, "failed: %s", ("x",), exc_info)
    r.__dict__.update(extra)
    return r


def test_json_lines_carry_the_fields_and_the_traceback() -> None:
    line = json.loads(logs.JsonFormatter().format(record("retry", exc=True)))
    assert {k: line[k] for k in FIELDS} == {"order": 3, "recipe": "boom", "attempt": 2, "oven": "oven-1",
                                            "event": "retry"}
    assert line["message"] == "failed: x" and "ValueError: too cold" in line["traceback"]
    assert not set(FIELDS) & set(json.loads(logs.JsonFormatter().format(record())))


def test_text_lines_keep_a_recipe_failure_to_one_line_and_other_tracebacks_escaped() -> None:
    brief = logs.TextFormatter().format(record("retry", exc=True))
    assert brief.endswith("failed: x") and "Traceback" not in brief
    full = logs.TextFormatter().format(record(None, exc=True))
    assert "\n" not in full and "Traceback" in full


@pytest.fixture
def bare_root() -> Iterator[logging.Logger]:
    """The root logger with no handlers (as in a fresh `kitchen run`), restored afterwards."""
    root, kitchen_logger = logging.getLogger(), logging.getLogger("kitchen")
    saved = (root.handlers[:], root.level, kitchen_logger.level)
    root.handlers[:] = []
    yield root
    root.handlers[:], root.level = saved[0], saved[1]
    kitchen_logger.setLevel(saved[2])


def test_kitchen_adds_a_handler_only_when_the_application_has_none(bare_root: logging.Logger) -> None:
    mine = logging.NullHandler()
    bare_root.handlers[:] = [mine]  # pytest adds its capture handlers after fixtures: set them here
    assert logs.install("debug", as_json=True) is None
    assert bare_root.handlers == [mine], "the application's handlers are left alone"
    assert logging.getLogger("kitchen").level == logging.DEBUG
    bare_root.handlers[:] = []
    writer = logs.install("info", as_json=False)
    try:
        assert writer is not None and len(bare_root.handlers) == 1
        assert isinstance(bare_root.handlers[0], logging.handlers.QueueHandler), "records go through a queue"
    finally:
        logs.stop(writer)
        logs.stop(writer)  # idempotent


def test_a_line_logged_after_the_writer_stopped_is_written_by_the_next_stop(
        bare_root: logging.Logger, capsys: pytest.CaptureFixture[str]) -> None:
    """A hard stop: the main thread's loop ends and it stops the writer; the watchdog thread then logs why it
    is handing the orders back and stops the writer again before ``os._exit``. Those last lines must be written
    (CI's chaos run lost an oven's "ran over its limit" line this way)."""
    bare_root.handlers[:] = []
    writer = logs.install("info", as_json=False)
    log = logging.getLogger("kitchen.oven")
    try:
        log.info("oven-1 cooking")
        logs.stop(writer)  # the main thread, its loop ended
        log.warning("oven-1: order 7 ran over its 0.5s limit; failing it and exiting")  # the watchdog, after
    finally:
        logs.stop(writer)  # the hard stop's own flush, just before os._exit
    err = capsys.readouterr().err
    assert "oven-1 cooking" in err and "order 7 ran over its 0.5s limit" in err


def test_a_fork_waits_for_the_writer_to_finish_its_line_but_never_on_a_stuck_one(bare_root: logging.Logger) -> None:
    """``held`` keeps the writer between two lines while the supervisor forks; a writer stuck in a line (a full
    pipe, a paused pager) makes it yield False at once after its timeout, and fork_oven then forks nothing."""
    bare_root.handlers[:] = []
    writer = logs.install("info", as_json=False)
    assert writer is not None
    stream = writer._listener.handlers[0]
    try:
        with writer.held(timeout=1.0) as got:
            assert got is True
        stuck = threading.Thread(target=lambda: (stream.acquire(), release.wait(10), stream.release()))
        release = threading.Event()
        stuck.start()
        wait_for(lambda: not stream.lock.acquire(blocking=False) or stream.lock.release(), what="a writer stuck")
        with writer.held(timeout=0.05) as got:
            assert got is False
        assert fork_oven(lambda: 0, hold=lambda: writer.held(timeout=0.05)) is None, "no fork on a stuck writer"
        release.set()
        stuck.join(10)
        with writer.held(timeout=1.0) as got:
            assert got is True
    finally:
        logs.stop(writer)


@pytest.mark.processes
def test_a_real_oven_logs_json_fields_and_tracebacks(tmp_path) -> None:
    shop = Shop(tmp_path)
    try:
        done, bad = shop.kitchen.submit("margherita"), shop.kitchen.submit("boom")
        shop.oven("a", "--log-json")
        wait_for(lambda: shop.kitchen.ticket(bad.number).state == "burnt"
                 and shop.kitchen.ticket(done.number).state == "done", 30, "both orders to finish")
        wait_for(lambda: '"event": "burnt"' in shop.log("a"), 10, "the burnt line to be written")
        lines = [json.loads(line) for line in shop.log("a").splitlines()]
        burnt = [line for line in lines if line.get("event") == "burnt"]
        assert burnt[0]["order"] == bad.number and burnt[0]["recipe"] == "boom" and burnt[0]["attempt"] == 3
        assert "Traceback" in burnt[0]["traceback"]
        assert any(line.get("event") == "done" and line["order"] == done.number for line in lines)
    finally:
        shop.close()

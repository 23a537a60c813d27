"""`kitchen run --metrics-port`: Prometheus text with the shop's counters, read from the database at each
scrape, on SQLite and PostgreSQL."""

from __future__ import annotations

import socket
import urllib.request

import pytest

from kitchen import FrozenClock, Kitchen
from kitchen.cli import metrics

pytest.importorskip("prometheus_client")


def value(text: str, name: str) -> float:
    lines = [line for line in text.splitlines() if line.startswith(name + " ") or line.startswith(name + "{")]
    assert len(lines) == 1, f"{name}: {lines}"
    return float(lines[0].rsplit(" ", 1)[1])


def test_the_text_has_orders_by_state_counters_queue_age_and_ovens(kitchen: Kitchen, clock: FrozenClock) -> None:
    kitchen.submit_many([{"recipe": "margherita"}] * 3)
    assert kitchen.submit("margherita", key="k").duplicate is False
    assert kitchen.submit("margherita", key="k").duplicate is True
    oven = kitchen.join("oven-1", host="h1")
    assert oven.complete(oven.claim())
    clock.advance(2.0)
    text = metrics.text(kitchen)
    assert value(text, 'kitchen_orders{state="queued"}') == 3
    assert value(text, 'kitchen_orders{state="done"}') == 1
    assert value(text, "kitchen_submitted_total") == 4 and value(text, "kitchen_done_total") == 1
    assert value(text, "kitchen_duplicate_total") == 1 and value(text, "kitchen_refused_total") == 0
    assert value(text, "kitchen_oldest_ready_seconds") == pytest.approx(2.0)
    assert value(text, 'kitchen_oven_heartbeat_age_seconds{host="h1",oven="oven-1"}') == pytest.approx(2.0)
    assert value(text, 'kitchen_oven_cooked_total{host="h1",oven="oven-1"}') == 1
    assert "# TYPE kitchen_done_total counter" in text or "# TYPE kitchen_done counter" in text
    assert value(text, "kitchen_claim_latency_seconds_count") == 1
    assert value(text, 'kitchen_claim_latency_seconds_bucket{le="0.001"}') == 1, "claimed the moment it was ready"
    assert value(text, 'kitchen_completion_latency_seconds_bucket{le="0.001"}') == 1
    assert value(text, 'kitchen_completion_latency_seconds_bucket{le="+Inf"}') == 1


def test_latency_histograms_count_each_completion_once(kitchen: Kitchen, clock: FrozenClock) -> None:
    from prometheus_client import generate_latest

    registry = metrics.registry_for(kitchen)  # from the newest completion on, like a serving process
    kitchen.submit_many([{"recipe": "margherita"}] * 2)
    clock.advance(3.0)  # ready for 3 s before the claim
    oven = kitchen.join("oven-1")
    first, second = oven.claim(), oven.claim()
    clock.advance(0.2)
    assert oven.complete(first) and oven.complete(second)
    once = generate_latest(registry).decode()
    assert value(once, "kitchen_claim_latency_seconds_count") == 2
    assert value(once, 'kitchen_claim_latency_seconds_bucket{le="1.0"}') == 0
    assert value(once, 'kitchen_claim_latency_seconds_bucket{le="5.0"}') == 2
    assert value(once, "kitchen_completion_latency_seconds_sum") == pytest.approx(6.4)
    again = generate_latest(registry).decode()
    assert value(again, "kitchen_completion_latency_seconds_count") == 2, "a scrape counts nothing twice"


def test_serve_answers_a_scrape_and_a_busy_port_is_one_line(kitchen: Kitchen) -> None:
    kitchen.submit("margherita")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = metrics.serve(kitchen, port, addr="127.0.0.1")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
            body = reply.read().decode()
        assert value(body, 'kitchen_orders{state="queued"}') == 1
        with pytest.raises(Exception, match=f"--metrics-port {port}: cannot listen"):
            metrics.serve(kitchen, port, addr="127.0.0.1")
    finally:
        server.shutdown()

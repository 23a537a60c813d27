"""Prometheus metrics for `kitchen run --metrics-port P`: the shop's counters and gauges, read at each scrape.

Everything is read from the database when Prometheus scrapes (one ``status()`` snapshot, the same few ms the
TUI spends), so any process serving it shows the whole kitchen, every host's ovens included, and the oven
loop does no extra work. ``prometheus_client`` is the optional extra ``kitchen-queue[metrics]``: the base
install does not grow.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kitchen.core.errors import ConfigError
from kitchen.protocol import Kitchen

PREFIX = "kitchen"


class KitchenCollector:
    """A custom collector: fresh values from the database at every scrape."""

    def __init__(self, kitchen: Kitchen) -> None:
        self.kitchen = kitchen

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        snap = self.kitchen.status()
        states = GaugeMetricFamily(f"{PREFIX}_orders", "Orders by state (done and burnt: totals ever, not rows kept)",
                                   labels=["state"])
        for state in ("queued", "cooking", "done", "burnt"):
            states.add_metric([state], getattr(snap.orders, state))
        yield states
        totals = {
            "submitted": ("Orders ever created (duplicates not counted)", snap.orders.submitted),
            "done": ("Accepted completions (one ledger row each)", snap.ledger.completions),
            "burnt": ("Orders dead-lettered", snap.orders.burnt),
            "retried": ("Failures retried with backoff", snap.retried),
            "requeued": ("Orders taken back after an oven death or lease expiry", snap.requeued),
            "refused": ("Late or zombie completions refused by the fence", snap.ledger.refused_completions),
            "duplicate": ("Submits absorbed by an existing key", snap.ledger.duplicate_submissions),
        }
        for name, (text, value) in totals.items():
            yield CounterMetricFamily(f"{PREFIX}_{name}", text, value=value)
        waiting = self.kitchen.oldest_waiting()
        yield GaugeMetricFamily(f"{PREFIX}_oldest_ready_seconds",
                                "How long the next ready order has been ready (0: nothing ready)",
                                value=waiting or 0.0)
        age = GaugeMetricFamily(f"{PREFIX}_oven_heartbeat_age_seconds", "Seconds since each live oven's heartbeat",
                                labels=["oven", "host"])
        cooked = CounterMetricFamily(f"{PREFIX}_oven_cooked", "Orders each live oven completed",
                                     labels=["oven", "host"])
        for oven in snap.ovens:
            if oven.state == "alive":
                age.add_metric([oven.name, oven.host], oven.heartbeat_age)
                cooked.add_metric([oven.name, oven.host], oven.cooked)
        yield age
        yield cooked


def registry_for(kitchen: Kitchen) -> Any:
    """A registry holding only kitchen's collector (no process or platform metrics of this interpreter)."""
    try:
        from prometheus_client import CollectorRegistry
    except ImportError:
        raise ConfigError("--metrics-port needs prometheus_client: pip install 'kitchen-queue[metrics]'") from None
    registry = CollectorRegistry(auto_describe=False)
    registry.register(KitchenCollector(kitchen))
    return registry


def serve(kitchen: Kitchen, port: int, addr: str = "0.0.0.0") -> Any:
    """Serve Prometheus text on ``port`` from a daemon thread; returns the server (``shutdown()`` to stop)."""
    from prometheus_client import start_http_server

    registry = registry_for(kitchen)
    try:
        server, _thread = start_http_server(port, addr=addr, registry=registry)
    except OSError as exc:
        raise ConfigError(f"--metrics-port {port}: cannot listen ({exc.strerror})") from None
    return server


def text(kitchen: Kitchen) -> str:
    """The exposition text one scrape returns (for tests and `kitchen status`-like use)."""
    from prometheus_client import generate_latest

    return generate_latest(registry_for(kitchen)).decode()

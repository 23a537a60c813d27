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


BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0, 600.0)  # seconds
LATENCY_BATCH = 10_000  # completions read per scrape at most (the rest at the next one)


class KitchenCollector:
    """A custom collector: fresh values from the database at every scrape. The latency histograms count the
    completions this process has read since it started (a new process starts from the newest, like any
    Prometheus counter after a restart)."""

    def __init__(self, kitchen: Kitchen, since: int | None = None) -> None:
        self.kitchen = kitchen
        self.after = self._newest() if since is None else since
        self.claim = [0] * (len(BUCKETS) + 1)
        self.done = [0] * (len(BUCKETS) + 1)
        self.sums = [0.0, 0.0]

    def _newest(self) -> int:
        rows = self.kitchen.ledger(limit=1)
        return rows[0].id if rows else 0

    def _observe(self) -> None:
        for ledger_id, wait, total in self.kitchen.latencies(self.after, LATENCY_BATCH):
            self.after = ledger_id
            for counts, value, i in ((self.claim, wait, 0), (self.done, total, 1)):
                counts[next((b for b, edge in enumerate(BUCKETS) if value <= edge), len(BUCKETS))] += 1
                self.sums[i] += value

    def _histograms(self) -> Iterator[Any]:
        from prometheus_client.core import HistogramMetricFamily

        self._observe()
        for name, text, counts, total in (
                ("claim_latency_seconds", "Seconds a completed order waited, ready, before its claim", self.claim,
                 self.sums[0]),
                ("completion_latency_seconds", "Seconds from order to done, per completion", self.done,
                 self.sums[1])):
            cumulative, running = [], 0
            for edge, count in zip((*map(str, BUCKETS), "+Inf"), counts):
                running += count
                cumulative.append((edge, running))
            yield HistogramMetricFamily(f"{PREFIX}_{name}", text, buckets=cumulative, sum_value=total)

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
        yield from self._histograms()


def registry_for(kitchen: Kitchen, since: int | None = None) -> Any:
    """A registry holding only kitchen's collector (no process or platform metrics of this interpreter)."""
    try:
        from prometheus_client import CollectorRegistry
    except ImportError:
        raise ConfigError("--metrics-port needs prometheus_client: pip install 'kitchen-queue[metrics]'") from None
    registry = CollectorRegistry(auto_describe=False)
    registry.register(KitchenCollector(kitchen, since))
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


def text(kitchen: Kitchen, since: int | None = 0) -> str:
    """The exposition text of one scrape (tests): latencies of the completions after ledger id ``since``."""
    from prometheus_client import generate_latest

    return generate_latest(registry_for(kitchen, since)).decode()

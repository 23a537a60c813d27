"""The peers of ``python -m bench.postgres``, one worker each, as their authors intend: procrastinate, pgqueuer
(at its default batch of 10 and at 1) and pq (see that module's docstring, item 3)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .pg_common import SERVER, fresh_schema, load1, noop


def procrastinate_drain(n: int) -> dict[str, Any]:
    import asyncio

    import procrastinate

    with fresh_schema() as schema:
        conninfo = f"{SERVER}{'&' if '?' in SERVER else '?'}options=-csearch_path%3D{schema}"
        app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))
        counter = {"n": 0, "last": 0.0}

        @app.task(name="noop")
        def noop() -> None:
            counter["n"] += 1
            counter["last"] = time.perf_counter()

        async def main() -> tuple[float, float, tuple[float, float], float]:
            async with app.open_async():
                await app.schema_manager.apply_schema_async()
                for i in range(0, n, 500):
                    await asyncio.gather(*(noop.defer_async() for _ in range(i, min(n, i + 500))))
                load_before, cpu0 = load1(), time.process_time()
                start = time.perf_counter()
                await app.run_worker_async(wait=False, concurrency=1, install_signal_handlers=False,
                                           delete_jobs="never")
                return start, time.perf_counter(), (load_before, load1()), time.process_time() - cpu0

        start, end, load, cpu = asyncio.run(main())
    assert counter["n"] == n, counter
    return {"rate": n / (counter["last"] - start), "seconds": counter["last"] - start, "exit_s": end - start,
            "load": load, "cpu_ms_per_order": 1000 * cpu / n}


def pgqueuer_drain(n: int, batch: int = 10) -> dict[str, Any]:
    """pgqueuer's drain with ``batch`` jobs dequeued per round trip (its default 10; 1 to compare with
    kitchen at prefetch 1)."""
    import asyncio

    import psycopg
    from pgqueuer import PsycopgDriver, Queries, QueueManager
    from pgqueuer.types import QueueExecutionMode

    with fresh_schema() as schema:
        counter = {"n": 0, "last": 0.0}

        async def main() -> tuple[float, float, tuple[float, float], int, float]:
            conn = await psycopg.AsyncConnection.connect(SERVER, autocommit=True, options=f"-c search_path={schema}")
            queries = Queries(PsycopgDriver(conn))
            await queries.install()
            for i in range(0, n, 1000):
                k = min(n, i + 1000) - i
                await queries.enqueue(["noop"] * k, [None] * k, [0] * k)
            qm = QueueManager(queries)

            @qm.entrypoint("noop")
            async def noop(job: Any) -> None:
                counter["n"] += 1
                counter["last"] = time.perf_counter()

            load_before, cpu0 = load1(), time.process_time()
            start = time.perf_counter()
            await qm.run(mode=QueueExecutionMode.drain, batch_size=batch)
            end, cpu = time.perf_counter(), time.process_time() - cpu0
            load = (load_before, load1())
            cur = await conn.execute("SELECT count(*) FROM pgqueuer")
            left = int((await cur.fetchone())[0])
            await conn.close()
            return start, end, load, left, cpu

        start, end, load, left, cpu = asyncio.run(main())
    assert counter["n"] == n and left == 0, (counter, left)
    return {"rate": n / (counter["last"] - start), "seconds": counter["last"] - start, "exit_s": end - start,
            "load": load, "cpu_ms_per_order": 1000 * cpu / n}


def pq_drain(n: int) -> dict[str, Any]:
    import psycopg2
    from pq import PQ

    with fresh_schema() as schema:
        conn = psycopg2.connect(SERVER, options=f"-c search_path={schema}")
        manager = PQ(conn)
        manager.create()
        queue = manager["bench"]
        for i in range(0, n, 500):
            with queue:  # one transaction per 500 puts (pq's own savepoint per put)
                for j in range(i, min(n, i + 500)):
                    queue.put({"i": j})
        got = 0
        load_before, cpu0 = load1(), time.process_time()
        start = time.perf_counter()
        while True:
            with queue:  # the job is taken in the transaction that processes it (pq's transactional use)
                job = queue.get(block=False)
                if job is None:
                    break
                noop(job.data)
                got += 1
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu0
        load = (load_before, load1())
        left = len(queue)
        conn.close()
    assert got == n and left == 0, (got, left)
    return {"rate": n / elapsed, "seconds": elapsed, "load": load, "cpu_ms_per_order": 1000 * cpu / n}


# name -> (module, what the table calls it, drain): like with like, pgqueuer at batch 1 beside its default 10.
PEERS: dict[str, tuple[str, str, Callable[[int], dict[str, Any]]]] = {
    "procrastinate": ("procrastinate", "procrastinate", procrastinate_drain),
    "pgqueuer": ("pgqueuer", "pgqueuer (its default batch of 10)", pgqueuer_drain),
    "pgqueuer-b1": ("pgqueuer", "pgqueuer, batch 1", lambda n: pgqueuer_drain(n, batch=1)),
    "pq": ("pq", "pq", pq_drain),
}


def installed(module: str) -> bool:
    from importlib.util import find_spec

    return find_spec(module) is not None


"""What every test folder shares, imported as ``tests.support.<module>``.

* ``waiting`` — the one way to wait: ``wait_for(condition, timeout, what)`` polls with a deadline (never
  sleep-and-hope); ``wait_until(pilot, ...)`` is the same for a Textual app under ``run_test``.
* ``processes`` — real OS processes: the environment children get (``PYTHONPATH`` = the repository, so
  ``tests.*`` modules such as recipe modules import), zombie-aware ``running(pid)``, children in lockstep,
  the ``kitchen`` CLI as a subprocess.
* ``shop`` — ``Shop``: a kitchen on disk with fast heartbeats plus the real oven processes a test starts;
  ``recipes`` — the recipes those ovens load (``--recipes tests.support.recipes``).
* ``postgres`` — the PostgreSQL test server; ``capabilities.require``: skip locally, fail under CI;
  ``lossy`` — a proxy in front of it that loses the reply to a COMMIT.
"""

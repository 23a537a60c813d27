"""The README's "Use it from Python": its ``tasks.py`` and its user's test run as a user would run them (pytest in
a project of their own), its producer lines against real ovens (``kitchen run --recipes tasks``), on SQLite and
PostgreSQL, and the transactional enqueue example on PostgreSQL."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from kitchen import Kitchen
from tests.support.postgres import PG_SERVER
from tests.support.processes import ROOT, child_env

pytestmark = pytest.mark.processes


def blocks() -> dict[str, str]:
    """The python code blocks of the README's "Use it from Python", by the file named on their first line."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Use it from Python"):text.index("## Ovens: `kitchen run`")]
    out = {}
    for block in re.findall(r"```python\n(.*?)```", section, re.S):
        named = re.match(r"# (\w+\.py)", block)
        out[named.group(1) if named else f"block{len(out)}"] = block
    return out


def run_beside_an_oven(tmp_path: Path, url: str, script: str) -> subprocess.CompletedProcess:
    """``script`` (python code, cwd ``tmp_path`` with the README's tasks.py) run while a real ``kitchen run
    --recipes tasks`` oven cooks on ``url``; the oven is stopped afterwards."""
    (tmp_path / "tasks.py").write_text(blocks()["tasks.py"])
    kitchen = Path(sys.executable).with_name("kitchen")
    oven = subprocess.Popen([str(kitchen), "--db", url, "run", "--recipes", "tasks", "--log-level", "warning"],
                            cwd=tmp_path, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        return subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                              timeout=120, env=child_env(tmp_path))
    finally:
        oven.terminate()
        oven.wait(30)


def test_the_readme_user_test_passes_in_a_project_of_its_own(tmp_path: Path) -> None:
    code = blocks()
    (tmp_path / "tasks.py").write_text(code["tasks.py"])
    (tmp_path / "test_tasks.py").write_text(code["test_tasks.py"])
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                          "test_tasks.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env=child_env(tmp_path))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "1 passed" in run.stdout


def test_the_readme_producer_lines_against_real_ovens(tmp_path: Path, backend_url: str) -> None:
    producer = next(v for v in blocks().values() if "from tasks import charge, soup" in v)
    producer = producer.replace("Kitchen.open()", f"Kitchen.open({backend_url!r})")
    run = run_beside_an_oven(tmp_path, backend_url, producer)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.startswith("GiveUp: card refused Traceback (most recent call last):")
    with Kitchen.open(backend_url) as k:
        states = {k.ticket(n).state for n in (1, 2, 3)}
        assert k.ticket(1).result == {"bowls": 2, "spicy": False} and states == {"done", "burnt"}


def test_the_readme_transactional_enqueue_against_a_real_oven(tmp_path: Path, backend: str, backend_url: str) -> None:
    """"Enqueue inside your own transaction", run as written: the invoice and the order commit together, the
    oven cooks it, ``t.result`` comes back."""
    if backend != "postgresql":
        pytest.skip("transactional enqueue is PostgreSQL's")
    import psycopg

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### Enqueue inside your own transaction"):]
    example = re.findall(r"```python\n(.*?)```", section, re.S)[0]
    app_schema = f"app_{uuid.uuid4().hex[:12]}"  # the application's own tables, apart from kitchen's
    app_url = f"{PG_SERVER}?options=-csearch_path%3D{app_schema}"
    assert example.count('"postgresql://app@db.example/shop"') == 2, "the example's URLs changed: update this test"
    example = example.replace('Kitchen.open("postgresql://app@db.example/shop")', f"Kitchen.open({backend_url!r})")
    example = example.replace('psycopg.connect("postgresql://app@db.example/shop")', f"psycopg.connect({app_url!r})")
    with psycopg.connect(PG_SERVER, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {app_schema}")
        admin.execute(f"CREATE TABLE {app_schema}.invoices (id serial PRIMARY KEY, customer text, total int)")
    try:
        run = run_beside_an_oven(tmp_path, backend_url, example)
        assert run.returncode == 0, run.stderr[-3000:]
        assert run.stdout.strip() == "{'bowls': 2, 'spicy': False}"
        with psycopg.connect(PG_SERVER) as admin:
            assert admin.execute(f"SELECT customer, total FROM {app_schema}.invoices").fetchall() == [("ada", 12)]
        with Kitchen.open(backend_url) as k:
            assert k.ticket(1).state == "done" and k.ticket(1).customer == "ada"
    finally:
        with psycopg.connect(PG_SERVER, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA IF EXISTS {app_schema} CASCADE")

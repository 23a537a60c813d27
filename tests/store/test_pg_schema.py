"""PostgreSQL: kitchen's tables live in a schema of their own, beside an application's, never inside them.

Each test gets a database of its own (created and dropped here), so "the default schema" and "public" are
really the server's defaults, as an application would meet them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from kitchen import Kitchen
from kitchen.cli import main
from kitchen.core.errors import DatabaseError, SchemaError
from tests.store.raw import PLACEHOLDER, POSTGRES_V1
from tests.support.postgres import PG_SERVER, require_pg

pytestmark = pytest.mark.postgres


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and "Traceback" not in text
    return text


@pytest.fixture
def database() -> Iterator[str]:
    """A URL to a new, empty database (no ?schema=): what a user's plain ``postgresql://.../app`` names."""
    require_pg()
    import psycopg

    name = f"kt_{uuid.uuid4().hex}"
    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_SERVER.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(PG_SERVER, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sql(url: str, text: str, *params: object) -> list[tuple]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(text, params or None)
        return cur.fetchall() if cur.description else []


def tables(url: str, schema: str) -> set[str]:
    return {r[0] for r in sql(url, "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                              schema)}


def test_a_url_without_a_schema_puts_kitchen_in_a_schema_of_its_own(database: str) -> None:
    sql(database, "CREATE TABLE public.orders (id serial PRIMARY KEY, sku text)")  # the application's own
    sql(database, "CREATE TABLE public.events (id serial PRIMARY KEY, what text)")
    sql(database, "INSERT INTO public.orders (sku) VALUES ('shoe')")
    with Kitchen.open(database) as k:
        ticket = k.submit("margherita", {"size": "L"})
        oven = k.join("oven-1")
        order = oven.claim()
        assert order is not None and order.id == ticket.number and oven.complete(order)
    assert "kitchen_meta" in tables(database, "kitchen") and "orders" in tables(database, "kitchen")
    assert tables(database, "public") == {"orders", "events"}, "the application's schema is untouched"
    assert sql(database, "SELECT id, sku FROM public.orders") == [(1, "shoe")]
    assert sql(database, "SELECT state FROM kitchen.orders") == [("done",)]
    with Kitchen.open(database) as again:  # a second open finds it there
        assert again.ticket(ticket.number).state == "done"


def test_a_kitchen_made_before_in_the_default_schema_stays_there(database: str) -> None:
    """A kitchen made by an earlier release (tables in public, the v1 fixture) keeps working in place."""
    dump = POSTGRES_V1.read_text(encoding="utf-8").replace(f"CREATE SCHEMA {PLACEHOLDER};", "")
    sql(database, dump.replace(PLACEHOLDER, "public"))
    before = sql(database, "SELECT id, state, recipe FROM public.orders ORDER BY id")
    assert before
    with Kitchen.open(database) as k:
        assert k.status().orders.queued == sum(1 for _, state, _ in before if state == "queued")
        k.submit("margherita")
    assert "kitchen" not in {r[0] for r in sql(database, "SELECT nspname FROM pg_namespace")}
    after = sql(database, "SELECT id, state, recipe FROM public.orders ORDER BY id")
    assert after[:len(before)] == before and len(after) == len(before) + 1


def test_search_path_in_the_url_options_is_honoured(database: str) -> None:
    sql(database, "CREATE SCHEMA app")
    url = f"{database}?options={quote('-c search_path=app,public -c statement_timeout=60000')}"
    with Kitchen.open(url) as k:
        k.submit("margherita")
        assert k.status().orders.queued == 1
    assert "kitchen_meta" in tables(database, "app")
    assert "kitchen" not in {r[0] for r in sql(database, "SELECT nspname FROM pg_namespace")}


def test_a_foreign_table_in_kitchens_schema_is_one_line_and_nothing_is_made(
        database: str, capsys: pytest.CaptureFixture[str]) -> None:
    sql(database, "CREATE SCHEMA shop")
    sql(database, "CREATE TABLE shop.events (id serial PRIMARY KEY, what text)")
    with pytest.raises(SchemaError) as info:
        Kitchen.open(f"{database}?schema=shop")
    assert "already has a table 'events' that is not kitchen's" in one_line(info.value)
    assert main(["--db", f"{database}?schema=shop", "status"]) == 1  # the CLI: docs/bad-input.md's row
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("kitchen: error: postgresql://") and "schema shop already" in err[0]
    assert tables(database, "shop") == {"events"}, "nothing created beside it"


def test_a_role_without_create_is_told_the_grant(database: str) -> None:
    role = f"kt_role_{uuid.uuid4().hex[:12]}"
    db_name = database.rsplit("/", 1)[1]
    sql(database, f'CREATE ROLE "{role}" LOGIN')
    sql(database, "REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    try:
        as_role = database.replace("://postgres@", f"://{role}@", 1)
        assert as_role != database
        with pytest.raises(DatabaseError) as info:
            Kitchen.open(as_role)
        line = one_line(info.value)
        assert f"GRANT CREATE ON DATABASE {db_name} TO {role}" in line, line
        sql(database, f'GRANT CREATE ON DATABASE "{db_name}" TO "{role}"')
        with Kitchen.open(as_role) as k:  # the grant it named is the one it needed
            k.submit("margherita")
        assert "kitchen_meta" in tables(database, "kitchen")
    finally:
        sql(database, f'DROP OWNED BY "{role}" CASCADE')
        sql(database, f'DROP ROLE IF EXISTS "{role}"')

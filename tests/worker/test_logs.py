"""Logs one event per line, and no secret in them: an error message with a newline cannot forge a log
line, and a password in the database URL appears in no log, no status line, no command line."""

from __future__ import annotations

import pytest

from tests.support.shop import Shop
from tests.support.waiting import wait_for

pytestmark = pytest.mark.processes


def test_a_newline_in_an_error_cannot_forge_a_log_line(tmp_path) -> None:
    shop = Shop(tmp_path)
    try:
        t = shop.kitchen.submit("forger")
        shop.oven("a")
        wait_for(lambda: shop.kitchen.ticket(t.number).state == "burnt", 30, "the order to burn")
        lines = shop.log("a").splitlines()
        assert not [line for line in lines if line.startswith("12:00:00 INFO    [1] oven-9")], "a forged line"
        assert any("card refused\\n12:00:00" in line for line in lines), "the newline is shown escaped"
    finally:
        shop.close()


def test_a_password_shows_nowhere(tmp_path, backend_url: str, backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("a SQLite path has no password")
    url = backend_url.replace("postgresql://postgres@", "postgresql://postgres:sekret-word@")
    shop = Shop(tmp_path, url)
    try:
        shop.oven("a")
        wait_for(lambda: shop.alive("a"), 20, "the oven to join")
        status = shop.cli("--db", url, "status")
        assert status.returncode == 0 and "sekret-word" not in status.stdout + status.stderr
        assert "sekret-word" not in shop.log("a")
    finally:
        shop.close()

"""Every row of docs/bad-input.md, run through the real CLI: the documented message and exit code, a usage
line for bad arguments (exit 2), one line for runtime errors (exit 1), never a traceback, nothing written."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.processes import ROOT, assert_one_line_error, kitchen_cli

DOC = ROOT / "docs" / "bad-input.md"
LONG = "k" * 201
BIG = json.dumps({"x": "y" * 70_000})


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    message: str  # a substring of the error (or warning) line
    code: int
    ini: str | None = None  # kitchen.ini text; passed with --config
    own_db: bool = False  # the case names its own --db


CASES = [
    Case("unknown-command", ("frobnicate",), "invalid choice: 'frobnicate'", 2),
    Case("unknown-flag", ("order", "margherita", "--colour", "red"), "unrecognized arguments: --colour red", 2),
    Case("missing-recipe", ("order",), "the following arguments are required: recipe", 2),
    Case("recipe-not-a-name", ("order", "os.system"), "recipe 'os.system' is not a recipe name", 2),
    Case("payload-not-json", ("order", "margherita", "--payload", "{size: L}"),
         "argument --payload: not valid JSON", 2),
    Case("payload-not-object", ("order", "margherita", "--payload", '["L"]'),
         "argument --payload: must be a JSON object, not list", 2),
    Case("payload-over-limit", ("order", "margherita", "--payload", BIG), "payload is 70008 bytes; the limit is 65536",
         2),
    Case("key-too-long", ("order", "margherita", "--key", LONG), "key is 201 characters; the limit is 200", 2),
    Case("customer-too-long", ("order", "margherita", "--customer", LONG),
         "customer is 201 characters; the limit is 200", 2),
    Case("count-not-integer", ("order", "margherita", "--count", "ten"),
         "argument --count: expected a whole number, not 'ten'", 2),
    Case("count-negative", ("order", "margherita", "--count", "-5"), "argument --count: must be at least 1, not -5", 2),
    Case("count-zero", ("order", "margherita", "--count", "0"), "argument --count: must be at least 1, not 0", 2),
    Case("priority-out-of-range", ("order", "margherita", "--priority", "101"),
         "argument --priority: must be between -100 and 100, not 101", 2),
    Case("priority-not-integer", ("order", "margherita", "--priority", "high"),
         "argument --priority: expected a whole number, not 'high'", 2),
    Case("delay-negative", ("order", "margherita", "--delay", "-1"),
         "argument --delay: must be zero or more seconds, not -1", 2),
    Case("requeue-nothing", ("requeue",), "kitchen requeue: error: requeue needs --burnt or at least one TICKET", 2),
    Case("ovens-zero", ("run", "--ovens", "0"), "argument --ovens: must be at least 1, not 0", 2),
    Case("unknown-ticket", ("ticket", "999"), "no order with ticket 999", 1),
    Case("wait-unknown-ticket", ("ticket", "999", "--wait", "--timeout", "5"), "no order with ticket 999", 1),
    Case("timeout-without-wait", ("ticket", "1", "--timeout", "5"), "kitchen ticket: error: --timeout needs --wait", 2),
    Case("timeout-negative", ("ticket", "1", "--wait", "--timeout", "-1"),
         "argument --timeout: must be zero or more seconds, not -1", 2),
    Case("cancel-nothing", ("cancel",), "the following arguments are required: TICKET", 2),
    Case("cancel-not-a-number", ("cancel", "seven"), "argument TICKET: expected a whole number, not 'seven'", 2),
    Case("cancel-unknown-ticket", ("cancel", "999"), "ticket 999 not cancelled: no such order", 1),
    Case("config-missing", ("--config", "nope.ini", "status"), "config file not found: nope.ini", 1),
    Case("ini-malformed-line", ("status",), "kitchen.ini, line 3: not 'key = value'", 1,
         ini="[kitchen]\nbuckets = 8\nthis line is bad\n"),
    Case("ini-no-section", ("status",), "kitchen.ini, line 1: expected a [section] header first", 1,
         ini="buckets = 8\n"),
    Case("ini-bad-value", ("status",), "buckets must be a whole number, not 'eight'", 1,
         ini="[kitchen]\nbuckets = eight\n"),
    Case("ini-bad-oven-start", ("run", "--ovens", "2"), "oven_start must be 'fork' or 'exec', not 'clone'", 1,
         ini="[kitchen]\noven_start = clone\n"),
    Case("ini-unknown-key", ("status",), "warning: kitchen.ini: unknown setting 'bukets' in [kitchen] ignored", 0,
         ini="[kitchen]\nbukets = 8\n"),
    Case("ini-contradictory", ("status",), "heartbeat_timeout (2.0) must exceed heartbeat_interval (2.0)", 1,
         ini="[kitchen]\nheartbeat_interval = 2\nheartbeat_timeout = 2\n"),
    Case("ini-lease-too-short", ("status",), "lease (1.0) must exceed heartbeat_interval (1.0)", 1,
         ini="[kitchen]\nlease = 1\n"),
    Case("ini-bad-duration", ("status",), "keep_done must be a duration like 90s, 5m, 12h, 7d or forever, not '7 days'",
         1, ini="[kitchen]\nkeep_done = 7 days\n"),
    Case("purge-older-than-bad", ("purge", "--older-than", "banana"),
         "argument --older-than: --older-than must be a duration like 90s, 5m, 12h, 7d or forever, not 'banana'", 2),
    Case("metrics-port-out-of-range", ("run", "--metrics-port", "70000"),
         "argument --metrics-port: must be a TCP port, 1 to 65535, not 70000", 2),
    Case("argument-not-utf8", ("order", "margherita", "--customer", "\udcff\udcfe"),
         "is not valid UTF-8 text", 2),
    Case("payload-too-deep", ("order", "margherita", "--payload", '{"a":' * 70 + "1" + "}" * 70),
         "payload is nested more than 64 levels deep", 2),
    Case("payload-hostile-depth", ("order", "margherita", "--payload", "[" * 60_000 + "]" * 60_000),
         "argument --payload: nested more than 64 levels deep", 2),
    Case("oven-name-not-a-word", ("run", "--name", "oven\nforged log line", "--burst"),
         "argument --name: oven name", 2),
    Case("db-unknown-scheme", ("--db", "mysql://localhost/kitchen", "status"),
         "unknown database URL scheme 'mysql'", 1, own_db=True),
    Case("db-unreachable", ("--db", "postgresql://127.0.0.1:1/kitchen", "status"),
         "cannot reach database postgresql://127.0.0.1:1/kitchen", 1, own_db=True),
]


def doc_rows() -> dict[str, int]:
    """Case id -> exit code, from the table in docs/bad-input.md."""
    rows = {}
    for line in DOC.read_text().splitlines():
        m = re.match(r"\|\s*`([a-z0-9-]+)`\s*\|.*\|\s*(\d)\s*\|\s*$", line)
        if m:
            rows[m.group(1)] = int(m.group(2))
    return rows


def test_the_table_and_the_cases_agree() -> None:
    assert doc_rows() == {c.id: c.code for c in CASES}


@pytest.mark.processes
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path: Path) -> None:
    from kitchen import Kitchen

    db = tmp_path / "k.db"
    Kitchen.open(str(db)).close()
    args = list(case.args)
    if case.ini is not None:
        (tmp_path / "kitchen.ini").write_text(case.ini)
        args = ["--config", "kitchen.ini", *args]
    if not case.own_db:
        args = ["--db", str(db), *args]
    started = time.monotonic()
    out = kitchen_cli(tmp_path, *args)
    took = time.monotonic() - started
    assert "Traceback" not in out.stderr + out.stdout
    assert took < 10, f"took {took:.1f}s: a bad input is reported at once"
    if case.code == 0:  # a warning names the key, and the command still works
        assert out.returncode == 0, out.stderr
        assert out.stderr.strip().splitlines() == [f"kitchen: {case.message}"]
        assert "orders: 0 queued" in out.stdout
    else:
        line = assert_one_line_error(out, case.code)
        assert case.message in line, line
    with Kitchen.open(str(db)) as k:
        assert k.status().orders.submitted == 0, "nothing was written"

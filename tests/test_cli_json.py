"""The README's `--json` tables against the real `--json` output of each command, both ways."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kitchen import Kitchen
from kitchen.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"
SECTION = "### `--json` output"
COMMANDS = {  # README command -> the arguments run
    "order": ["order", "margherita", "--count", "2", "--json"],
    "status": ["status", "--json"],
    "ovens": ["ovens", "--json"],
    "ticket": ["ticket", "1", "--json"],
    "ledger": ["ledger", "--json"],
    "purge": ["purge", "--older-than", "1s", "--json"],
}


def documented() -> dict[str, set[str]]:
    """Command -> key paths, from the first column of each table in the README's `--json` section."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = lines.index(SECTION) + 1
    keys: dict[str, set[str]] = {}
    command = None
    for line in lines[start:]:
        if line.startswith("#"):
            break
        found = re.match(r"`kitchen (\w+)", line)
        if found:
            command = found.group(1)
            keys.setdefault(command, set())
        elif line.startswith("| `"):
            assert command, f"a table row before any command: {line}"
            keys[command] |= set(re.findall(r"`([^`]+)`", line.split("|")[1]))
    return keys


def paths(value: Any, docs: set[str], path: str = "") -> Iterator[str]:
    """Key paths in a JSON value, descending as far as the README documents keys ('a.b', 'a[].b')."""
    if isinstance(value, dict) and (not path or any(d.startswith(path + ".") for d in docs)):
        for key, inner in value.items():
            yield from paths(inner, docs, f"{path}.{key}" if path else key)
    elif isinstance(value, list) and not path:
        for item in value:
            yield from paths(item, docs)
    elif isinstance(value, list) and any(d.startswith(path + "[]") for d in docs):
        assert value, f"{path} is empty: the test's kitchen must fill it"
        for item in value:
            yield from paths(item, docs, path + "[]")
    else:
        yield path


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kitchen with something in every list: a completion, a refused late completion, an oven."""
    monkeypatch.chdir(tmp_path)  # no kitchen.ini but this test's
    monkeypatch.delenv("KITCHEN_CONFIG", raising=False)
    monkeypatch.delenv("KITCHEN_DB", raising=False)
    url = str(tmp_path / "kitchen.db")
    with Kitchen.open(url, heartbeat_timeout=2.0) as k:
        k.submit("margherita", {"size": "L"}, customer="ada", key="ada-1")
        k.submit("marinara", key="ada-1")
        k.submit("calzone")
        oven = k.join("oven-1")
        first, second = oven.claim(), oven.claim()
        assert first is not None and second is not None
        assert oven.complete(first, {"slices": 8})
        k.reap(now=k.clock() + 60)  # oven-1 is declared dead: its second order goes back in the queue
        assert not oven.complete(second, {"late": True})
        k.join("oven-2")
        assert k.fire("margherita", 600.0, 610.0, "every 10s") is not None  # a periodic recipe's slot
    return url


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_readme_documents_every_json_key(command: str, db: str, capsys: pytest.CaptureFixture[str]) -> None:
    docs = documented()
    assert set(docs) == set(COMMANDS), "one README table per command with --json"
    assert main(["--db", db, *COMMANDS[command]]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out
    shown: set[str] = set()
    for line in out if command == "order" else ["\n".join(out)]:
        shown |= set(paths(json.loads(line), docs[command]))
    undocumented, absent = sorted(shown - docs[command]), sorted(docs[command] - shown)
    assert not undocumented, f"`kitchen {command} --json` prints keys README.md does not list: {undocumented}"
    assert not absent, f"README.md lists keys `kitchen {command} --json` does not print: {absent}"

"""The project's own rules, checked by the test command: layers (import-linter, contracts in pyproject.toml),
lint (ruff), types (mypy), and no module reaching into another module's private names.

The tools run as subprocesses from the same environment as the tests (the dev dependency group), in the
repository root, with their configuration from pyproject.toml; a failure shows the tool's own output.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import ROOT

KITCHEN = ROOT / "kitchen"
RUFF_PATHS = ["kitchen", "tests", "bench", "scripts"]
# Names with a leading underscore that are public API of the standard library (os._exit, namedtuple methods).
PUBLIC_UNDERSCORED = {"_exit", "_replace", "_asdict", "_fields", "_field_defaults", "_make"}
OWN = {"self", "cls"}


def tool(name: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``name`` from this interpreter's scripts folder (the venv's bin) in the repository root."""
    exe = Path(sysconfig.get_path("scripts")) / name
    if not exe.exists():
        exe = Path(sys.executable).with_name(name)
    assert exe.exists(), f"{name} is not installed next to {sys.executable} (it is in the dev dependency group)"
    return subprocess.run([str(exe), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def check(out: subprocess.CompletedProcess) -> None:
    """Fail with the tool's command line and its whole output unless it exited 0."""
    if out.returncode != 0:
        command = " ".join(Path(a).name if i == 0 else str(a) for i, a in enumerate(out.args))
        pytest.fail(f"{command} exited {out.returncode}:\n{out.stdout}{out.stderr}", pytrace=False)


@pytest.mark.processes
def test_import_contracts_hold() -> None:
    check(tool("lint-imports", "--no-logo"))


@pytest.mark.processes
def test_ruff_finds_nothing() -> None:
    check(tool("ruff", "check", "--output-format", "concise", *RUFF_PATHS))


@pytest.mark.processes
def test_mypy_finds_nothing() -> None:
    check(tool("mypy"))  # packages, strictness and overrides: [tool.mypy] in pyproject.toml


def private_uses(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, what) for each use of another object's private name: ``obj._name`` where obj is not
    self/cls/super()/type(self), and ``from module import _name``. Dunders are public."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr) and node.attr not in PUBLIC_UNDERSCORED:
            if not _own(node.value):
                yield node.lineno, f"{ast.unparse(node.value)}.{node.attr}"
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if _private(alias.name):
                    yield node.lineno, f"from {'.' * node.level}{node.module or ''} import {alias.name}"


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _own(value: ast.expr) -> bool:
    if isinstance(value, ast.Name):
        return value.id in OWN
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
        if value.func.id == "super":
            return True
        return value.func.id == "type" and len(value.args) == 1 and _own(value.args[0])
    return False


def test_no_module_uses_another_modules_private_names() -> None:
    offenders = []
    for path in sorted(KITCHEN.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        offenders += [f"{path.relative_to(ROOT)}:{line}: {what}" for line, what in private_uses(tree)]
    if offenders:
        pytest.fail("private names used from outside their module:\n" + "\n".join(offenders), pytrace=False)


def test_the_private_name_check_sees_what_it_should() -> None:
    code = """
from kitchen.store.schema import _upgrade
import os
class A:
    def f(self, other):
        self._x = super()._y + type(self)._z + other._w
        os._exit(0)
        return app._reading, self.__class__, parts._replace(a=1)
"""
    assert sorted(what for _, what in private_uses(ast.parse(code))) == [
        "app._reading", "from kitchen.store.schema import _upgrade", "other._w"]

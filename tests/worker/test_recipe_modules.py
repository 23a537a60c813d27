"""`kitchen run --recipes tasks` finds ./tasks.py in the current directory (as Celery, RQ and huey do), and a
bare ``@recipe`` names the recipe after its function."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import child_env, kitchen_cli

pytestmark = pytest.mark.processes

TASKS = '''from kitchen import recipe


@recipe
def soup(ctx):
    return {"bowls": ctx.payload.get("bowls", 1)}
'''


def test_a_recipe_module_in_the_current_directory(tmp_path) -> None:
    (tmp_path / "tasks.py").write_text(TASKS)
    assert kitchen_cli(tmp_path, "--db", "k.db", "order", "soup", "--payload", '{"bowls": 2}').returncode == 0
    script = Path(sys.executable).with_name("kitchen")  # the installed command (python -m would add cwd itself)
    argv = [str(script), "--db", "k.db", "run", "--recipes", "tasks", "--burst", "--log-level", "warning"]
    run = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=60, env=child_env())
    assert run.returncode == 0, run.stderr
    out = kitchen_cli(tmp_path, "--db", "k.db", "ticket", "1", "--json")
    assert '"state": "done"' in out.stdout and '"result": {"bowls": 2}' in out.stdout

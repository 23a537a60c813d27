"""A test whose capability is missing (a PostgreSQL server, root, tmpfs mounts) is skipped locally and fails
under CI (env ``CI`` set): a green CI run has exercised every backend and every fault."""

from __future__ import annotations

import os

import pytest


def require(reason: str | None, what: str = "this test") -> None:
    """Skip (locally) or fail (under CI) when ``reason`` says what this test needs is missing."""
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set, so {what} must run)", pytrace=False)
        pytest.skip(reason)

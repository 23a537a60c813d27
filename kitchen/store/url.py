"""Where the database lives: a path, sqlite:///path or postgresql://... parsed into a Target."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlparse

from kitchen.core.errors import DatabaseError


@dataclass(frozen=True)
class Target:
    """A parsed database URL; ``label`` is safe to show (no password)."""

    dialect: str
    location: str
    label: str
    schema: str | None = None


def parse_url(url: str) -> Target:
    """Accept a path, sqlite:///path, or postgresql://...; anything else is refused by name."""
    if not url or not url.strip():
        raise DatabaseError("database URL is empty")
    if "://" not in url:
        if url == ":memory:":
            raise DatabaseError("an in-memory database cannot be shared by ovens; give a file path")
        return Target("sqlite", url, url)
    parts = urlparse(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        path = unquote(parts.path)
        if parts.netloc:
            path = parts.netloc + path
        elif path.startswith("/") and not url.startswith("sqlite:////"):
            path = path[1:]
        if not path:
            raise DatabaseError(f"sqlite URL has no path: {url}")
        return Target("sqlite", path, path)
    if scheme in ("postgresql", "postgres"):
        query = parse_qs(parts.query)
        schema = query.pop("schema", [None])[0]
        clean = parts._replace(scheme="postgresql", query="&".join(f"{k}={v[0]}" for k, v in query.items()))
        label = f"postgresql://{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"
        return Target("postgresql", clean.geturl(), label, schema)
    raise DatabaseError(f"unknown database URL scheme {scheme!r}: use a file path, sqlite:///path or postgresql://")

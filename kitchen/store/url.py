"""Where the database lives: a path, sqlite:///path or postgresql://... parsed into a Target."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, unquote, urlparse

from kitchen.core.errors import DatabaseError


@dataclass(frozen=True)
class Target:
    """A parsed database URL; ``label`` is safe to show (no password)."""

    dialect: str
    location: str
    label: str
    schema: str | None = None   # PostgreSQL: where kitchen's tables live; None until the dialect settles it
    options: str = ""           # PostgreSQL: the URL's own libpq ``options`` (kitchen adds its settings after)


_SCHEMA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_SEARCH_PATH = re.compile(r"(?:-c\s*|--)search_path\s*=\s*([^\s]+)")


def _search_path_head(options: str) -> str | None:
    """The first schema of a ``search_path`` set in libpq ``options`` (``-csearch_path=app,public``): as
    libpq allows it, and kitchen takes it as the schema meant for its tables."""
    found = _SEARCH_PATH.search(options)
    if found is None:
        return None
    head = found.group(1).replace("\\,", ",").split(",")[0].strip().strip('"')
    return head or None


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
        options = query.pop("options", [""])[0]
        schema = schema or _search_path_head(options)
        if schema is not None and not _SCHEMA_NAME.fullmatch(schema):
            raise DatabaseError(f"schema name {schema[:40]!r} is not a plain identifier (letters, digits, _)")
        clean = parts._replace(scheme="postgresql",
                               query="&".join(f"{k}={quote(v[0])}" for k, v in query.items()))
        label = f"postgresql://{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"
        return Target("postgresql", clean.geturl(), label, schema, options)
    raise DatabaseError(f"unknown database URL scheme {scheme!r}: use a file path, sqlite:///path or postgresql://")

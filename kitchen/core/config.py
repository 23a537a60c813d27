"""Settings: defaults, then kitchen.ini, then KITCHEN_CONFIG / KITCHEN_DB, then explicit keywords.

Every error names the file and line (or the key) so a person can fix it without reading code.
"""

from __future__ import annotations

import configparser
import math
import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .orders import check_recipe_name

DEFAULT_DATABASE = "data/kitchen.db"
DEFAULT_MENU = {
    "margherita": 6.0,
    "marinara": 5.0,
    "pepperoni": 8.0,
    "hawaiian": 7.0,
    "quattro_formaggi": 10.0,
    "calzone": 12.0,
}
DAY = 86400.0
# Retention settings take durations ("90s", "5m", "12h", "7d", a plain number of seconds, or "forever").
DURATIONS = frozenset({"keep_done", "keep_burnt", "dedup_window", "keep_events"})
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*", re.IGNORECASE)
_UNIT = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": DAY}


def parse_duration(text: Any, what: str = "duration") -> float:
    """Seconds from "90s", "5m", "12h", "7d" or a plain number; "forever" is infinity (never purged)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        word = str(text).strip().lower()
        if word == "forever":
            return math.inf
        found = _DURATION.fullmatch(word)
        if found is None:
            raise ConfigError(f"{what} must be a duration like 90s, 5m, 12h, 7d or forever, not {text!r}")
        value = float(found.group(1)) * _UNIT[(found.group(2) or "s").lower()]
    if not value > 0:
        raise ConfigError(f"{what} must be longer than 0, not {text!r}")
    return value


@dataclass(frozen=True)
class Settings:
    """Everything under ``[kitchen]`` in kitchen.ini, plus the ``[menu]``; see kitchen.ini for meanings."""

    database: str = DEFAULT_DATABASE
    buckets: int = 64
    durability: str = "normal"
    heartbeat_interval: float = 1.0
    heartbeat_timeout: float = 5.0
    reap_interval: float = 1.0
    lease: float = 30.0
    max_attempts: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    speed: float = 1.0
    burn_rate: float = 0.0
    prefetch: int = 1
    concurrency: int = 1
    poll_interval: float = 0.5
    grace: float = 10.0
    busy_timeout: float = 5.0
    payload_limit: int = 65536
    ovens: int = 3
    oven_start: str = "fork"
    recipes: str = ""
    keep_done: float = 7 * DAY
    keep_burnt: float = 30 * DAY
    dedup_window: float | None = None  # None: the same as keep_done
    keep_events: float = 7 * DAY
    menu: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_MENU))
    schedule: Mapping[str, str] = field(default_factory=dict)  # [schedule] recipe = every 5m | cron 0 3 * * *

    @property
    def dedup_seconds(self) -> float:
        """How long after its order finished a key still dedups."""
        return self.keep_done if self.dedup_window is None else self.dedup_window

    def validated(self) -> Settings:
        """Refuse contradictory or out-of-range values with a message naming the key."""
        if self.durability not in ("normal", "full"):
            raise ConfigError(f"durability must be 'normal' or 'full', not {self.durability!r}")
        if self.oven_start not in ("fork", "exec"):
            raise ConfigError(f"oven_start must be 'fork' or 'exec', not {self.oven_start!r}")
        positive = ("heartbeat_interval", "heartbeat_timeout", "reap_interval", "lease", "speed",
                    "poll_interval", "busy_timeout", "backoff_base", "backoff_max")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be greater than 0, not {getattr(self, name)}")
        if not 1 <= self.buckets <= 4096:
            raise ConfigError(f"buckets must be between 1 and 4096, not {self.buckets}")
        if self.max_attempts < 1:
            raise ConfigError(f"max_attempts must be at least 1, not {self.max_attempts}")
        if not 1 <= self.prefetch <= 1000:
            raise ConfigError(f"prefetch must be between 1 and 1000, not {self.prefetch}")
        if not 1 <= self.concurrency <= 256:
            raise ConfigError(f"concurrency must be between 1 and 256, not {self.concurrency}")
        if not 0 <= self.burn_rate <= 1:
            raise ConfigError(f"burn_rate must be between 0 and 1, not {self.burn_rate}")
        if self.grace < 0:
            raise ConfigError(f"grace must not be negative, not {self.grace}")
        if not 0 <= self.ovens <= 64:
            raise ConfigError(f"ovens must be between 0 and 64, not {self.ovens}")
        if not 1024 <= self.payload_limit <= 16 * 1024 * 1024:
            raise ConfigError(f"payload_limit must be between 1024 and 16777216 bytes, not {self.payload_limit}")
        if self.lease <= self.heartbeat_interval:
            raise ConfigError(f"lease ({self.lease}) must exceed heartbeat_interval ({self.heartbeat_interval}):"
                              " heartbeats renew it")
        if self.heartbeat_timeout <= self.heartbeat_interval:
            raise ConfigError(
                f"heartbeat_timeout ({self.heartbeat_timeout}) must exceed heartbeat_interval"
                f" ({self.heartbeat_interval})")
        for name in sorted(DURATIONS):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ConfigError(f"{name} must be longer than 0, not {value}")
        for recipe, rule in self.schedule.items():
            check_recipe_name(recipe, "schedule: recipe name")
            if str(rule).split(" ", 1)[0] not in ("every", "cron"):
                raise ConfigError(f"[schedule] {recipe}: expected 'every DURATION' or 'cron M H DOM MON DOW',"
                                  f" not {rule!r}")
        for recipe, seconds in self.menu.items():
            check_recipe_name(recipe, "menu: recipe name")
            if seconds < 0:
                raise ConfigError(f"menu: {recipe} bake time must not be negative")
        return self

    def with_overrides(self, **overrides: Any) -> Settings:
        """Apply keyword settings (as Kitchen.open takes them), coercing and validating each."""
        known = {f.name: f for f in fields(self)}
        clean: dict[str, Any] = {}
        for key, value in overrides.items():
            if value is None:
                continue
            if key not in known:
                raise ConfigError(f"unknown setting {key!r}")
            if key in DURATIONS:
                clean[key] = None if key == "dedup_window" and value == "" else parse_duration(value, key)
            else:
                clean[key] = value if key in ("menu", "schedule") else _coerce(key, value, known[key].type)
        return replace(self, **clean).validated()


def _coerce(key: str, value: Any, kind: Any) -> Any:
    kind = {"int": int, "float": float, "str": str}.get(kind, kind) if isinstance(kind, str) else kind
    try:
        if kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if kind is float:
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key} must be {'a whole number' if kind is int else 'a number'}, not {value!r}") from None


def find_config(explicit: str | None = None, env: Mapping[str, str] | None = None) -> Path | None:
    """The ini file to read: --config, else KITCHEN_CONFIG, else ./kitchen.ini when present."""
    env = os.environ if env is None else env
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file not found: {explicit}")
        return path
    if env.get("KITCHEN_CONFIG"):
        path = Path(env["KITCHEN_CONFIG"])
        if not path.is_file():
            raise ConfigError(f"KITCHEN_CONFIG points at a missing file: {path}")
        return path
    path = Path("kitchen.ini")
    return path if path.is_file() else None


def read_ini(path: Path) -> dict[str, Any]:
    """Parse kitchen.ini into keyword settings; malformed lines name their line number."""
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=("#", ";"))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc.__class__.__name__}") from None
    try:
        parser.read_string(text, source=str(path))
    except configparser.MissingSectionHeaderError as exc:
        raise ConfigError(f"{path}, line {exc.lineno}: expected a [section] header first") from None
    except configparser.ParsingError as exc:
        lineno = exc.errors[0][0] if exc.errors else "?"
        raise ConfigError(f"{path}, line {lineno}: not 'key = value'") from None
    except configparser.DuplicateOptionError as exc:
        raise ConfigError(f"{path}, line {exc.lineno}: {exc.option} is set twice") from None
    except configparser.DuplicateSectionError as exc:
        raise ConfigError(f"{path}, line {exc.lineno}: section [{exc.section}] appears twice") from None
    except configparser.Error as exc:
        raise ConfigError(f"{path}: {str(exc).splitlines()[0]}") from None
    known = {f.name for f in fields(Settings)} - {"menu", "schedule"}
    out: dict[str, Any] = {}
    for section in parser.sections():
        if section not in ("kitchen", "menu", "schedule"):
            warnings.warn(f"{path}: unknown section [{section}] ignored", stacklevel=2)
    if parser.has_section("kitchen"):
        for key, value in parser.items("kitchen"):
            if key not in known:
                warnings.warn(f"{path}: unknown setting {key!r} in [kitchen] ignored", stacklevel=2)
                continue
            out[key] = value
    if parser.has_section("menu"):
        menu: dict[str, float] = {}
        for recipe, value in parser.items("menu"):
            try:
                menu[recipe] = float(value)
            except ValueError:
                raise ConfigError(f"{path}: [menu] {recipe} must be a bake time in seconds, not {value!r}") from None
        if menu:
            out["menu"] = menu
    if parser.has_section("schedule"):
        out["schedule"] = {recipe: value.strip() for recipe, value in parser.items("schedule")}
    return out


def load_settings(config: str | None = None, database: str | None = None,
                  env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Resolve settings with precedence: keyword > environment > ini file > defaults."""
    env = os.environ if env is None else env
    path = find_config(config, env)
    values: dict[str, Any] = read_ini(path) if path else {}
    if env.get("KITCHEN_DB"):
        values["database"] = env["KITCHEN_DB"]
    values.update({k: v for k, v in overrides.items() if v is not None})
    if database:
        values["database"] = database
    return Settings().with_overrides(**values)

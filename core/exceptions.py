"""One root exception for ModelDB; each area subclasses it.

Driver errors (chDB, clickhouse-driver, confluent-kafka) are translated at the
backend boundary into these types, keeping the original code where there is one.
"""
from __future__ import annotations


class ModelDBError(Exception):
    """Root of every error ModelDB raises on purpose."""


class ConfigError(ModelDBError, ValueError):
    """A setting or URI is wrong. The message names the setting and the fix."""


class TrackingError(ModelDBError, ValueError):
    """Bad input to the tracking API (a param too large, a bad name…)."""


class DecodeError(ModelDBError):
    """An event that cannot be decoded or validated. It goes to the dead letters."""


class TransportError(ModelDBError):
    """The event transport cannot publish (broker unreachable, log not writable)."""


class WarehouseError(ModelDBError):
    """A warehouse query or insert failed. ``code`` is ClickHouse's error code if known."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


class ReadOnlyError(WarehouseError):
    """A statement that would change data was refused on a read-only path."""


class WarehouseUnavailable(WarehouseError):
    """The warehouse cannot be reached (server down, wrong port)."""


class WarehouseLocked(WarehouseError):
    """The embedded chDB warehouse is owned by another process."""


class MigrationError(WarehouseError):
    """The warehouse schema is ahead of this code, or a migration failed."""

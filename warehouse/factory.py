"""Pick the warehouse backend from the warehouse URI; heavy clients load only when asked."""
from __future__ import annotations

from modeldb.core.config import Settings
from modeldb.core.exceptions import ConfigError
from modeldb.warehouse.base import Warehouse
from modeldb.warehouse.sandbox import SandboxLimits


def connect(settings: Settings, *, database: str | None = None, migrate: bool = True) -> Warehouse:
    """Open the configured warehouse and (by default) apply pending migrations."""
    uri = settings.warehouse_uri
    if uri.scheme == "chdb":
        if settings.clickhouse_cluster:
            raise ConfigError("MODELDB_CLICKHOUSE_CLUSTER is for a ClickHouse server cluster; chdb:// is one "
                              "embedded node (unset it, or point MODELDB_WAREHOUSE at clickhouse://)")
        try:
            import chdb  # noqa: F401
        except ImportError:  # pragma: no cover - pinned dependency
            raise ConfigError("chdb:// needs chDB: pip install chdb") from None
        from modeldb.warehouse.chdb_backend import ChdbWarehouse

        if not uri.path:
            raise ConfigError("MODELDB_WAREHOUSE: chdb:// needs a directory, e.g. chdb:///data/modeldb/warehouse")
        warehouse: Warehouse = ChdbWarehouse.connect(uri.path, database or uri.query.get("database", "modeldb"),
                                                        limits=SandboxLimits.of(settings))
    else:
        from modeldb.warehouse.clickhouse_backend import ClickHouseWarehouse

        warehouse = ClickHouseWarehouse.connect(uri, settings.clickhouse_password, database,
                                                cluster=settings.clickhouse_cluster or None,
                                                limits=SandboxLimits.of(settings))
    if migrate:
        from modeldb.warehouse.migrate import apply

        apply(warehouse)
    return warehouse

"""The public exception types (``modeldb.exceptions.TrackingError``): the facade over ``modeldb.core.exceptions``."""
from modeldb.core.exceptions import (ConfigError, DecodeError, MigrationError, ModelDBError, ReadOnlyError,
                                     TrackingError, TransportError, WarehouseError, WarehouseLocked,
                                     WarehouseUnavailable)

__all__ = ["ConfigError", "DecodeError", "MigrationError", "ModelDBError", "ReadOnlyError", "TrackingError",
           "TransportError", "WarehouseError", "WarehouseLocked", "WarehouseUnavailable"]

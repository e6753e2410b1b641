from pipelines.resources.http import HttpSource, SourceDataError, SourceError
from pipelines.resources.warehouse import Rows, Warehouse, WarehouseError

__all__ = ["HttpSource", "SourceDataError", "Rows", "SourceError", "Warehouse", "WarehouseError"]

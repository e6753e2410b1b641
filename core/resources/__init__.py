from core.resources.http import HttpSource
from core.resources.warehouse import Rows, Warehouse, WarehouseError

__all__ = ["HttpSource", "Rows", "Warehouse", "WarehouseError"]

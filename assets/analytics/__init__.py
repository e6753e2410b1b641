"""Analytics layer: decoupling statistics, mint event study, exchange migration, risk panel."""

import importlib.util
import sys
from types import ModuleType


def lazy(name: str) -> ModuleType:
    """`name`, imported when one of its attributes is first used (the standard library's
    LazyLoader recipe). The statistics and charts (statsmodels, scipy, matplotlib: ~2 s and
    ~200 MB) then load only in a process that runs an analytics step, not in every process
    that loads the definitions (the UI, the daemon, sensors, a run that only ingests)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module

"""One service, many Comuni: their settings (:mod:`.config`) and a registry of clients
built lazily per Comune (:mod:`.registry`). See ``docs/deployment.md``."""

from .config import ComuneConfig, Desk, load_comuni
from .registry import ComuneRegistry

__all__ = ["ComuneConfig", "ComuneRegistry", "Desk", "load_comuni"]

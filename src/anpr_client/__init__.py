"""anpr-client: a typed, tested client for ANPR's web services (public API in ``__all__``)."""

from ._version import __version__

__all__ = ["__version__"]

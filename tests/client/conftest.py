"""Client test fixtures (defined in :mod:`tests.client.support`)."""

from tests.client.support import ca, loopback, settings

__all__ = ["ca", "loopback", "settings"]

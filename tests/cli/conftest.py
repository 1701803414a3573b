"""CLI tests reuse the client tests' loopback server."""

from tests.client.support import ca, loopback, settings

__all__ = ["ca", "loopback", "settings"]

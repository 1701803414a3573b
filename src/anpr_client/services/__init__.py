"""Typed facades over :meth:`anpr_client.Client.call`, one module per service family."""

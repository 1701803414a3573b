"""Model test fixtures: the pytest plugin's simulator (imported so the tests run before the
plugin's entry point is installed)."""

from anpr_client.simulator.pytest_plugin import anpr_client, anpr_simulator, anpr_simulator_config

__all__ = ["anpr_client", "anpr_simulator", "anpr_simulator_config"]

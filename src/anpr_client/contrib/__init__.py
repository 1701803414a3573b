"""Glue for the systems services already run (each module imports its system only when used)."""

"""Pre-transmission checks: validate and normalise registry data before ANPR sees it.

(public API assembled below; see docs/validation.md)
"""

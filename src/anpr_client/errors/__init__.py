"""The errors wing: the exception tree, and the data and diagnoses that choose a class.

=========================  =================================================================
:mod:`.exceptions`         the tree of every exception anpr-client raises (the ground floor:
                           it imports nothing of the library)
:mod:`.catalogue`          ANPR's error codes as data: code group, severity, class, retry advice,
                           our explanations; KO entries → the exception to raise
:mod:`.faults`             SOAP faults → typed exceptions with their likely causes
=========================  =================================================================

Every exception class is importable from here (and from :mod:`anpr_client`).
"""

from .exceptions import *  # noqa: F403 - the tree is this package's public API
from .exceptions import __all__ as __all__

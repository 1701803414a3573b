"""The operations the simulator implements, by ANPR operation code.

Each handler is ``(Context, Request) -> OkAnswer`` (see :mod:`.base`); operations not listed
here are answered KO EN379 "not simulated". The operations of other parties' work (CIE, CONSOLATI,
E00x, P00x, S001) are answered "shape only" (:mod:`.shape_only`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from .aire import change_aire, register_aire_birth, register_aire_other
from .annulment import annul_cancellation, annul_change, annul_registration
from .base import Handler
from .cancellation import (
    archive_cohabitation,
    cancel_for_other_reasons,
    delete_electoral_section,
    register_death,
)
from .certification import issue_certificate
from .connection import test_connection
from .consultation import find_parents, look_up_citizen, operation_answer, operation_state
from .consultation_registry import (
    find_citizen_for_enti,
    find_procedures,
    look_up_sections,
    show_elaboration,
)
from .extraction import asynchronous_request
from .mutation import change_residence
from .mutation_household import change_household
from .mutation_lists import (
    change_electoral_data,
    change_sections,
    manage_polygamy,
    revoke_datum,
)
from .mutation_record import change_record, correct_data
from .procedures import manage_procedure
from .reference_tables import download_file, download_table, interface_versions
from .registration import register_birth, register_cohabitation, register_for_other_reasons
from .registry_extraction import (
    extract_citizens,
    extract_statistics,
    extract_support_list,
    recover_codici_fiscali,
)
from .shape_only import shape_only

__all__ = ["HANDLERS"]

HANDLERS: Final[Mapping[str, Handler]] = MappingProxyType(
    {
        "TestConn": test_connection,
        "1001": register_birth,
        "1002": register_for_other_reasons,
        "1010": register_cohabitation,
        "1013": annul_registration,
        "1014": manage_procedure,
        "2001": register_death,
        "2003": cancel_for_other_reasons,
        "2009": archive_cohabitation,
        "2011": annul_cancellation,
        "2012": delete_electoral_section,
        "3001": find_parents,
        "3002": look_up_citizen,
        "3003": operation_answer,
        "3004": find_procedures,
        "3005": show_elaboration,
        "3006": find_citizen_for_enti,
        "3007": operation_state,
        "3008": look_up_sections,
        "4005": asynchronous_request,
        "5001": change_household,
        "5005": change_residence,
        "5008": change_record,
        "5010": change_electoral_data,
        "5011": change_sections,
        "5012": annul_change,
        "5013": revoke_datum,
        "5014": correct_data,
        "5021": manage_polygamy,
        "6001": issue_certificate,
        "7001": download_table,
        "A001": register_aire_birth,
        "A002": register_aire_other,
        "A006": change_aire,
        # extractions from the registry, their files, the interface versions
        "4001": extract_citizens,
        "4002": recover_codici_fiscali,
        "4003": extract_statistics,
        "4004": extract_support_list,
        "7002": download_file,
        "7003": interface_versions,
        # shape only (see .shape_only): schema-valid answers, filled from the registry
        **dict.fromkeys(
            (
                *("CIE2", "CIE7", "CIE8"),
                *("C001", "C002", "C003", "C010"),
                *("E001", "E002", "E003", "E004"),
                *("P001", "P002", "P003"),
                "S001",
            ),
            shape_only,
        ),
    }
)

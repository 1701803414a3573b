"""``anpr doctor``: every check a new installation needs, each with a verdict, evidence and fix.

The first day with ANPR fails in ways that all look alike from outside — certificates, the
operator's profile, the IP allow-list, the clock, the signature algorithm all come back as
``Rejected by policy`` or ``Internal Error (from client)``. The doctor checks what can be
checked, offline first, then (``live=True``) against the endpoint:

=========================  ===================================================================
:mod:`.endpoint`           ``base_url`` (HTTPS), ``ca_bundle`` (readable, CAs, valid now)
:mod:`.identities`         the Comune and workstation certificates (key, name, Comune, issuer
                           against the environment, validity), the operator (codice fiscale,
                           generic test user or read from the card)
:mod:`.selftest`           a TestConn signed, verified by the library's own verifier, its SAML
                           assertion validated against the SAML 2.0 schema
:mod:`.live`               DNS, TCP, TLS, clock offset, TestConn with rsa-sha256 then rsa-sha1
=========================  ===================================================================

::

    report = diagnose(load_settings("anpr.toml"), live=True)
    for check in report:
        print(check.verdict, check.name, check.evidence, check.fix)
    report.exit_code          # 0: nothing failed, 1: a check failed

Every check and its possible verdicts are listed in ``docs/doctor.md``.
"""

from __future__ import annotations

from .model import Check, Report, Verdict
from .run import diagnose

__all__ = ["Check", "Report", "Verdict", "diagnose"]

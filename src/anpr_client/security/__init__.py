"""WS-Security for ANPR: the frame requests carry, and the strict verifier of signed messages.

=====================  =====================================================================
:mod:`.frame`          :class:`WsSecurity`, the zeep ``wsse=`` plugin that builds the frame
:mod:`.saml`           the signed SAML 2.0 assertion (build and verify)
:mod:`.cms`            ``IdPostazioneFirmato`` (SignedData) and notification EnvelopedData
:mod:`.xmldsig`        hand-rolled exclusive c14n + digest + signature, and its verification
:mod:`.verify`         :func:`verify_envelope` → :class:`VerifiedEnvelope`
:mod:`.policy`         :class:`SecurityPolicy` and its presets
:mod:`.trust`          :class:`TrustStore`: anchors, intermediates, revoked certificates;
                       :class:`SignerPins`: which of the certificates they accept may sign
=====================  =====================================================================

Keys come from :mod:`anpr_client.credentials`; transport TLS from :mod:`anpr_client.transport.tls`.
``gateway_fault`` (the fault ANPR's gateway answers for a failed check) moved to
:mod:`anpr_client.simulator.gateway` in 0.2.
"""

from typing import TYPE_CHECKING

from anpr_client._compat import moved_names
from anpr_client.security.cms import (
    VerifiedSignedData,
    decrypt_enveloped,
    encrypt_enveloped,
    id_postazione_firmato,
    sign_data,
    verify_signed_data,
)
from anpr_client.security.frame import WsSecurity
from anpr_client.security.policy import DEFAULT_POLICY, NOTIFICATION_POLICY, SecurityPolicy
from anpr_client.security.saml import VerifiedAssertion
from anpr_client.security.trust import SignerPins, TrustStore
from anpr_client.security.verify import (
    VerifiedEnvelope,
    VerifiedTimestamp,
    verify_envelope,
)

__all__ = [
    "DEFAULT_POLICY",
    "NOTIFICATION_POLICY",
    "SecurityPolicy",
    "SignerPins",
    "TrustStore",
    "VerifiedAssertion",
    "VerifiedEnvelope",
    "VerifiedSignedData",
    "VerifiedTimestamp",
    "WsSecurity",
    "decrypt_enveloped",
    "encrypt_enveloped",
    "id_postazione_firmato",
    "sign_data",
    "verify_envelope",
    "verify_signed_data",
]

if not TYPE_CHECKING:  # hidden from type checkers, which keep flagging unknown names
    __getattr__ = moved_names(
        __name__, {"gateway_fault": "anpr_client.simulator.gateway.gateway_fault"}
    )

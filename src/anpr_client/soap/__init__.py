"""The SOAP wing: from a payload to ANPR's wire bytes and from an answer back to data.

=====================  =====================================================================
:mod:`.bundle`         our WSDL/XSD bundle, loaded once per process: operations, families,
                       schemas, element models
:mod:`.xsdmodel`       the small XSD subset ANPR uses, read into :class:`~.xsdmodel.Node` trees
:mod:`.codec`          payload dicts ⇄ XML in schema order, tolerant decoding
:mod:`.testata`        ``testataRichiesta``, filled from the settings
:mod:`.envelope`       SOAP 1.1 envelopes: wrap a body, read an answer, detect faults
:mod:`.mtom`           MTOM/XOP multipart answers
=====================  =====================================================================

None of these modules sends anything; :mod:`anpr_client.transport` does.
"""

from .bundle import Bundle, Operation, UnknownOperationError, default_bundle_dir, get_bundle

__all__ = ["Bundle", "Operation", "UnknownOperationError", "default_bundle_dir", "get_bundle"]

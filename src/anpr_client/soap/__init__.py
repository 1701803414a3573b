"""The SOAP wing: from a payload to ANPR's wire bytes and from an answer back to data.

=====================  =====================================================================
:mod:`.bundle`         our WSDL/XSD bundle, loaded once per process: operations, families,
                       schemas, element models
:mod:`.xsdmodel`       the small XSD subset ANPR uses, read into :class:`~.xsdmodel.Node` trees
:mod:`.codec`          payload dicts ⇄ XML in schema order, tolerant decoding
:mod:`.testata`        ``testataRichiesta``, filled from the settings
:mod:`.envelope`       SOAP 1.1 envelopes: wrap a body, read an answer, detect faults
:mod:`.mtom`           MTOM/XOP multipart answers
:mod:`.binding`        the :class:`~.binding.Binding`: builds a request from the pieces above,
                       sends it through a transport, reads the answer (below the client)
=====================  =====================================================================

Only the binding sends, and only through :mod:`anpr_client.transport`; the other modules are
pure functions over data and bytes. The binding is not imported here (it needs the wing's
modules and the transport); import it from :mod:`anpr_client.soap.binding`.
"""

from .bundle import Bundle, Operation, UnknownOperationError, default_bundle_dir, get_bundle

__all__ = ["Bundle", "Operation", "UnknownOperationError", "default_bundle_dir", "get_bundle"]

"""The simulator's gateway can refuse rsa-sha256 (``accepted_signature_algorithms``): the
answer a Comune gets when an endpoint does not take the algorithm it signs with."""

from __future__ import annotations

import dataclasses

import pytest

from anpr_client.errors.exceptions import ConfigurationError, InternalErrorFromClient
from anpr_client.security.algorithms import SignatureMethod
from anpr_client.security.frame import WsSecurity
from anpr_client.simulator import SimulatorConfig
from anpr_client.simulator.runtime import running_simulator


def test_the_default_follows_allow_sha1() -> None:
    assert SimulatorConfig().signature_methods == {
        SignatureMethod.RSA_SHA256,
        SignatureMethod.RSA_SHA1,
    }
    assert SimulatorConfig(allow_sha1=False).signature_methods == {SignatureMethod.RSA_SHA256}
    only = SimulatorConfig(accepted_signature_algorithms=("rsa-sha1",))
    assert only.signature_methods == {SignatureMethod.RSA_SHA1}


@pytest.mark.parametrize("given", [("rsa-md5",), ()])
def test_an_unknown_or_empty_list_is_refused(given: tuple[str, ...]) -> None:
    with pytest.raises(ConfigurationError) as info:
        SimulatorConfig(accepted_signature_algorithms=given)
    assert info.value.setting == "simulator.accepted_signature_algorithms"


def test_a_gateway_refusing_rsa_sha256_answers_internal_error() -> None:
    config = SimulatorConfig(population=2, accepted_signature_algorithms=("rsa-sha1",))
    with running_simulator(config) as sim:
        settings = sim.settings()
        with sim.client(journal=None) as client, pytest.raises(InternalErrorFromClient):
            client.test_connection()
        sha1 = settings.replace(
            security=dataclasses.replace(settings.security, signature=SignatureMethod.RSA_SHA1)
        )
        assert WsSecurity.from_settings(sha1).algorithm == "rsa-sha1"
        with sim.client(journal=None, wsse=WsSecurity.from_settings(sha1)) as client:
            assert client.test_connection().value is not None

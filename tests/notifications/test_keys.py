"""Decryption keys: CO-9999 then its successor CO-9998, from settings files (and tokens)."""

from __future__ import annotations

from pathlib import Path

import pytest

from anpr_client.errors.exceptions import ConfigurationError
from anpr_client.notifications import Inbox, NotificationReceiver, ReplyCode
from anpr_client.settings import load_settings
from anpr_client.simulator.pki import Pki
from tests.notifications.support import (
    make_receiver,
    signed_request,
    successor_key,
    write_settings,
)


def test_successor_key_is_tried_after_the_first(pki: Pki, inbox: Inbox) -> None:
    co_9998 = successor_key(pki)
    receiver = make_receiver(pki, inbox, keys=[pki.comune.key_source(), co_9998.key_source()])
    old = signed_request(pki, id_notifica="1")
    new = signed_request(pki, id_notifica="2", recipient=co_9998.certificate)
    assert receiver.receive(old).outcome is ReplyCode.ACQUIRED
    assert receiver.receive(new).outcome is ReplyCode.ACQUIRED
    assert inbox.count() == 2
    # Without CO-9998 configured, what ANPR encrypted for it cannot be read: 5, nothing stored.
    only_old = make_receiver(pki, inbox)
    receipt = only_old.receive(signed_request(pki, id_notifica="3", recipient=co_9998.certificate))
    assert receipt.outcome is ReplyCode.NOT_CONFORMING
    assert "CO-9999" in (receipt.reason or "")
    assert inbox.count() == 2


def test_receiver_from_settings_with_rotated_key_files(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    co_9998 = successor_key(pki)
    files = write_settings(pki, tmp_path, keys=(pki.comune, co_9998))
    monkeypatch.setenv("ANPR_TEST_P12", "p12-password")
    settings = load_settings(files.path)
    receiver = NotificationReceiver.from_settings(settings)
    try:
        assert receiver.inbox.path == files.store
        for i, cert in enumerate((pki.comune.certificate, co_9998.certificate)):
            request = signed_request(pki, id_notifica=str(10 + i), recipient=cert)
            assert receiver.receive(request).outcome is ReplyCode.ACQUIRED
        assert receiver.receive(signed_request(pki, cod_destinatario="015146")).outcome == "5"
        assert receiver.inbox.count() == 2
        assert "p12-password" not in repr(receiver)
    finally:
        receiver.inbox.close()


def test_from_settings_names_what_is_missing(pki: Pki, tmp_path: Path) -> None:
    path = tmp_path / "anpr.toml"
    path.write_text('codice_istat = "058091"\n[notifications]\nstore = "x.sqlite"\n')
    with pytest.raises(ConfigurationError) as err:
        NotificationReceiver.from_settings(load_settings(path))
    assert err.value.setting == "notifications.decrypt_keys"
    files = write_settings(pki, tmp_path / "b")
    text = files.path.read_text().replace('anpr_ca = "', 'anpr_ca_unused = "')
    files.path.write_text(text)
    with pytest.raises(ConfigurationError):
        load_settings(files.path)  # an unknown key is refused by the settings loader

"""A tiny CNS-like smart card speaking vsmartcard's vpcd socket protocol (test helper).

pcscd's ``vpcd`` driver (package ``vsmartcard-vpcd``) exposes virtual readers
"Virtual PCD 00 00" / "00 01" and listens on 127.0.0.1:35963 / 35964. A virtual card *connects*
to that port: connected = card inserted, disconnected = card removed. Every message is a
2-byte big-endian length and a payload; a 1-byte payload is a control code (0 power off,
1 power on, 2 reset, 4 "send the ATR"), anything longer is a command APDU answered with a
response APDU.

The card implements the subset :class:`anpr_client.credentials.pcsc.PcscKeySource` uses with
:data:`~anpr_client.credentials.pcsc.CNS_PROFILE`: SELECT by path, READ BINARY, VERIFY (with a
try counter), MSE RESTORE/SET, PSO COMPUTE DIGITAL SIGNATURE over a DigestInfo and PSO
DECIPHER with command chaining. It also counts APDUs so tests can keep them few (each costs
about 44 ms through vpcd).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from anpr_client.credentials.base import DIGEST_INFO_PREFIX

ATR = bytes.fromhex("3BFF1800FF8131FE55006B02090403010101434E5310318000")  # a CNS-looking ATR
CERT_PATH = bytes.fromhex("11001101")
PIN_REFERENCE = 0x10
SW_OK = b"\x90\x00"


class VirtualCard:
    """Connects to vpcd on ``port`` and answers APDUs until :meth:`remove`."""

    def __init__(
        self,
        key: rsa.RSAPrivateKey,
        certificate_der: bytes,
        pin: str,
        *,
        port: int = 35963,
        tries: int = 3,
    ) -> None:
        self.key = key
        self.certificate_der = certificate_der
        self.pin = pin.encode().ljust(8, b"\xff")
        self.port = port
        self.tries = tries
        self.apdus = 0
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._reset_state()

    def _reset_state(self) -> None:
        self.selected: bytes | None = None
        self.verified = False
        self.operation: int | None = None
        self.chain = b""

    # -- connection -----------------------------------------------------------------------

    def insert(self) -> None:
        """Connect to vpcd: the reader now reports a card."""
        self._reset_state()
        self._sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.settimeout(None)
        self._thread = threading.Thread(target=self._serve, args=(self._sock,), daemon=True)
        self._thread.start()

    def remove(self) -> None:
        """Disconnect: the reader now reports no card."""
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _serve(self, sock: socket.socket) -> None:
        try:
            while True:
                header = _recv_exact(sock, 2)
                if header is None:
                    return
                (length,) = struct.unpack(">H", header)
                message = _recv_exact(sock, length)
                if message is None:
                    return
                if length == 1:
                    if message[0] in (0, 1, 2):  # power off / on / reset
                        self._reset_state()
                    elif message[0] == 4:
                        sock.sendall(struct.pack(">H", len(ATR)) + ATR)
                    continue
                self.apdus += 1
                answer = self.execute(message)
                sock.sendall(struct.pack(">H", len(answer)) + answer)
        except OSError:
            return

    # -- APDU processing ------------------------------------------------------------------

    def execute(self, apdu: bytes) -> bytes:
        cla, ins, p1, p2 = apdu[:4]
        body = apdu[5 : 5 + apdu[4]] if len(apdu) > 5 else b""
        if ins == 0xA4:  # SELECT
            self.selected = body if body == CERT_PATH else None
            return SW_OK if self.selected else b"\x6a\x82"
        if ins == 0xB0:  # READ BINARY
            if self.selected != CERT_PATH:
                return b"\x69\x86"
            offset = (p1 << 8) | p2
            le = apdu[4] or 256
            if offset >= len(self.certificate_der):
                return b"\x6b\x00"
            return self.certificate_der[offset : offset + le] + SW_OK
        if ins == 0x20:  # VERIFY
            if p2 != PIN_REFERENCE:
                return b"\x6a\x88"
            if self.tries == 0:
                return b"\x69\x83"
            if body == self.pin:
                self.tries = 3
                self.verified = True
                return SW_OK
            self.tries -= 1
            self.verified = False
            return b"\x69\x83" if self.tries == 0 else bytes([0x63, 0xC0 | self.tries])
        if ins == 0x22:  # MANAGE SECURITY ENVIRONMENT
            if p1 == 0xF1 and body == b"\x83\x01\x01":
                self.operation = p2
            return SW_OK
        if ins == 0x2A:  # PERFORM SECURITY OPERATION
            if not self.verified:
                return b"\x69\x82"
            if cla & 0x10:
                self.chain += body
                return SW_OK
            data, self.chain = self.chain + body, b""
            if (p1, p2) == (0x9E, 0x9A) and self.operation == 0xB6:
                return self._sign(data)
            if (p1, p2) == (0x80, 0x86) and self.operation == 0xB8:
                return self.key.decrypt(data[1:], padding.PKCS1v15()) + SW_OK
            return b"\x69\x85"
        return b"\x6d\x00"

    def _sign(self, block: bytes) -> bytes:
        for name, prefix in DIGEST_INFO_PREFIX.items():
            if block.startswith(prefix):
                algorithm = hashes.SHA256() if name == "sha256" else hashes.SHA1()  # noqa: S303
                digest = block[len(prefix) :]
                signature = self.key.sign(digest, padding.PKCS1v15(), utils.Prehashed(algorithm))
                return signature + SW_OK
        return b"\x6a\x80"


def _recv_exact(sock: socket.socket, count: int) -> bytes | None:
    data = b""
    while len(data) < count:
        try:
            chunk = sock.recv(count - len(data))
        except OSError:
            return None
        if not chunk:
            return None
        data += chunk
    return data

"""The NSH2 handshake (docs/PROTOCOL.md 7) as pure state machines.

No sockets and no clock of their own: the caller passes the bytes that
arrived and gets back the bytes to send, so the worked example of 7.10 is
reproduced by giving the nonces, private keys and time. ``io.py``-style
driving (sockets, deadlines) lives in connection.py.
"""

import collections
import hashlib
import hmac
import os
import struct
import threading
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey, X25519PublicKey)
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .errors import NetStructerError, StatusCode
from .keys import Key

MAGIC = b"NSH2"
MAGIC_V1 = b"NSH1"
MODE_INSECURE = 0x00
MODE_FERNET = 0x01
CLIENT_HELLO_BYTES = 117
SERVER_HELLO_BYTES = 101
CLIENT_FINISHED_BYTES = 32
MAX_REFUSAL_REASON_BYTES = 512
MAX_HANDSHAKE_FRAME_BYTES = 16 + 1 + MAX_REFUSAL_REASON_BYTES  # 529
FRESHNESS_SECONDS = 60
DEFAULT_REPLAY_MEMORY = 100_000

KEY_NOT_ACCEPTED = "the server did not accept this key"
SERVER_NOT_PROVEN = "the server did not prove knowledge of the key"


def _hmac(key, data):
    return hmac.new(key, data, hashlib.sha256).digest()


def _expand(prk, info):
    return HKDFExpand(hashes.SHA256(), 32, info).derive(prk)


def binder_key(psk):
    return _hmac(psk, b"netstructer v2 binder key")


def _public(private):
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _exchange(private, peer_public):
    """ss, or None for a small-order point (an all-zero result)."""
    try:
        ss = private.exchange(X25519PublicKey.from_public_bytes(peer_public))
    except ValueError:
        return None
    return None if ss == bytes(32) else ss


class Schedule:
    """The derived values of 7.6 for one handshake (named as in 7.10)."""

    def __init__(self, psk, ss, client_hello, server_hello_head):
        self.prk = _hmac(psk, ss)
        self.th1 = hashlib.sha256(client_hello + server_hello_head).digest()
        self.server_finished_key = _expand(self.prk, b"netstructer v1 server finished")
        self.server_finished = _hmac(self.server_finished_key, self.th1)

    def complete(self, client_hello, server_hello):
        self.th2 = hashlib.sha256(client_hello + server_hello).digest()
        self.client_finished_key = _expand(self.prk, b"netstructer v1 client finished")
        self.client_finished = _hmac(self.client_finished_key, self.th2)
        self.c2s = Key(_expand(self.prk, b"netstructer v1 c2s" + self.th2))
        self.s2c = Key(_expand(self.prk, b"netstructer v1 s2c" + self.th2))


def encode_refusal(code, reason):
    """A REFUSAL payload (7.5): the reason cut to 512 bytes at a character
    boundary, as UTF-8."""
    data = reason.encode("utf-8", "replace")
    if len(data) > MAX_REFUSAL_REASON_BYTES:
        data = data[:MAX_REFUSAL_REASON_BYTES].decode("utf-8", "ignore").encode("utf-8")
    return bytes([int(code)]) + data


def decode_refusal(payload):
    """The NetStructerError a REFUSAL payload reports (DATA_LOSS if malformed)."""
    if not payload:
        return NetStructerError(StatusCode.DATA_LOSS, "malformed refusal: empty payload")
    code = payload[0]
    if not 1 <= code <= 16:
        return NetStructerError(
            StatusCode.DATA_LOSS,
            f"malformed refusal: status code {code} is not a canonical error code (1-16)")
    reason = payload[1:]
    if len(reason) > MAX_REFUSAL_REASON_BYTES:
        return NetStructerError(
            StatusCode.DATA_LOSS,
            f"malformed refusal: a reason has at most {MAX_REFUSAL_REASON_BYTES} "
            f"bytes, got {len(reason)}")
    try:
        text = bytes(reason).decode("utf-8")
    except UnicodeDecodeError:
        return NetStructerError(StatusCode.DATA_LOSS,
                                "malformed refusal: the reason is not UTF-8")
    if not text:
        text = (KEY_NOT_ACCEPTED if code == StatusCode.UNAUTHENTICATED
                else "the server refused the connection (no reason given)")
    return NetStructerError(code, text)


class ClientHandshake:
    """The client side. ``key`` None means insecure mode.

    hello() -> bytes; on_server_hello(payload) -> ClientFinished bytes (or
    b"" in insecure mode); then ``c2s``/``s2c`` hold the session keys (None
    in insecure mode). Errors are NetStructerErrors as 7.7's client table.
    """

    def __init__(self, key=None, nonce=None, private_bytes=None, now=None):
        self.key = key
        self.mode = MODE_INSECURE if key is None else MODE_FERNET
        self.nonce = nonce if nonce is not None else os.urandom(32)
        if key is None:
            self._private = None
            public = bytes(32)
            key_id = bytes(8)
            stamp = 0
        else:
            self._private = (X25519PrivateKey.from_private_bytes(private_bytes)
                             if private_bytes is not None
                             else X25519PrivateKey.generate())
            public = _public(self._private)
            key_id = key.key_id
            stamp = int(time.time()) if now is None else now
        head = (MAGIC + bytes([self.mode]) + key_id + self.nonce + public +
                struct.pack(">Q", stamp))
        binder = (bytes(32) if key is None
                  else _hmac(binder_key(key.raw), head))
        self.client_hello = head + binder
        self.c2s = self.s2c = None
        self.schedule = None

    def hello(self):
        return self.client_hello

    def on_server_hello(self, payload):
        def malformed(why):
            return NetStructerError(StatusCode.DATA_LOSS, f"malformed ServerHello: {why}")
        if len(payload) != SERVER_HELLO_BYTES:
            raise malformed(f"a ServerHello has {SERVER_HELLO_BYTES} bytes, got {len(payload)}")
        if payload[:4] != MAGIC:
            raise malformed("not a NetStructer version 2 handshake (magic is not NSH2)")
        mode = payload[4]
        if mode not in (MODE_INSECURE, MODE_FERNET):
            raise malformed(f"unknown mode 0x{mode:02x}")
        if mode != self.mode:
            names = {MODE_INSECURE: "insecure", MODE_FERNET: "Fernet"}
            raise malformed(f"the server answered in {names[mode]} mode, this "
                            f"client runs in {names[self.mode]} mode")
        public, finished = payload[37:69], payload[69:101]
        if self.mode == MODE_INSECURE:
            if public != bytes(32) or finished != bytes(32):
                raise malformed("an insecure ServerHello has a zero public key and finished")
            return b""
        ss = _exchange(self._private, public)
        self._private = None
        if ss is None:
            raise malformed("invalid X25519 public key")
        schedule = Schedule(self.key.raw, ss, self.client_hello, payload[:69])
        if not hmac.compare_digest(schedule.server_finished, finished):
            raise NetStructerError(StatusCode.UNAUTHENTICATED, SERVER_NOT_PROVEN)
        schedule.complete(self.client_hello, bytes(payload))
        self.schedule = schedule
        self.c2s, self.s2c = schedule.c2s, schedule.s2c
        return schedule.client_finished


class ReplayGuard:
    """The nonces of accepted hellos while they could still be fresh (7.7).

    When full it forgets the oldest and refuses any hello not newer than
    what it forgot, so forgetting never lets a replay through.
    """

    def __init__(self, capacity=DEFAULT_REPLAY_MEMORY):
        self._lock = threading.Lock()  # Handshakes run on many threads.
        self._capacity = capacity
        self._by_nonce = {}
        self._order = collections.deque()  # (time, nonce), oldest first
        self._floor = None  # The newest time it had to forget.

    def check_and_remember(self, nonce, stamp, now):
        with self._lock:
            self._check_and_remember(nonce, stamp, now)

    def _check_and_remember(self, nonce, stamp, now):
        offset = stamp - now
        if abs(offset) > FRESHNESS_SECONDS:
            side = "behind" if offset < 0 else "ahead of"
            raise NetStructerError(
                StatusCode.UNAUTHENTICATED,
                f"the ClientHello is not fresh: its time is {abs(offset)} s {side} "
                f"the server's clock (at most {FRESHNESS_SECONDS} s): a replay, "
                "or a client clock to fix")
        while self._order and self._order[0][0] < now - FRESHNESS_SECONDS:
            _, old = self._order.popleft()
            self._by_nonce.pop(old, None)
        if nonce in self._by_nonce:
            raise NetStructerError(StatusCode.UNAUTHENTICATED,
                                   "a replayed ClientHello (its nonce was used before)")
        if len(self._order) >= self._capacity:
            oldest = self._order[0][0]
            if stamp <= oldest or (self._floor is not None and stamp <= self._floor):
                raise NetStructerError(
                    StatusCode.UNAUTHENTICATED,
                    "the ClientHello is not fresh enough for a server this busy (its "
                    "replay memory is full): check the client's clock, then retry")
            forgotten, old = self._order.popleft()
            self._by_nonce.pop(old, None)
            self._floor = forgotten if self._floor is None else max(self._floor, forgotten)
        self._by_nonce[nonce] = stamp
        self._order.append((stamp, nonce))


class ServerHandshake:
    """The server side. ``keys`` None means insecure mode.

    on_client_hello(payload) -> ServerHello bytes, and on_client_finished
    (payload) -> None; a refusal is a NetStructerError whose code and message
    go into the REFUSAL frame (7.7's server tables).
    """

    def __init__(self, keys=None, replay_guard=None, nonce=None,
                 private_bytes=None, now=None):
        self.keys = keys
        self.mode = MODE_INSECURE if keys is None else MODE_FERNET
        self._guard = replay_guard
        self._nonce = nonce if nonce is not None else os.urandom(32)
        self._private_bytes = private_bytes
        self._now = now
        self.key_index = None
        self.c2s = self.s2c = None
        self.complete = False
        self.schedule = None
        self._client_hello = self._server_hello = None

    def on_client_hello(self, payload):
        payload = bytes(payload)

        def malformed(why):
            return NetStructerError(StatusCode.INVALID_ARGUMENT, f"malformed handshake: {why}")
        if payload[:4] == MAGIC_V1:
            raise NetStructerError(
                StatusCode.FAILED_PRECONDITION,
                "the client speaks NetStructer handshake version 1 (NSH1, no binder); "
                "this server speaks version 2 (NSH2): upgrade the client")
        if len(payload) != CLIENT_HELLO_BYTES:
            raise malformed(f"a ClientHello has {CLIENT_HELLO_BYTES} bytes, got {len(payload)}")
        if payload[:4] != MAGIC:
            raise malformed("not a NetStructer version 2 handshake (magic is not NSH2)")
        mode = payload[4]
        if mode not in (MODE_INSECURE, MODE_FERNET):
            raise malformed(f"unknown mode 0x{mode:02x}")
        key_id, nonce, public = payload[5:13], payload[13:45], payload[45:77]
        stamp = struct.unpack(">Q", payload[77:85])[0]
        binder = payload[85:117]
        if mode == MODE_INSECURE and (key_id != bytes(8) or public != bytes(32)
                                      or stamp != 0 or binder != bytes(32)):
            raise malformed("an insecure ClientHello has a zero key id, public key, "
                            "time and binder")
        if mode == MODE_INSECURE and self.mode == MODE_FERNET:
            raise NetStructerError(StatusCode.FAILED_PRECONDITION,
                                   "this server requires Fernet encryption")
        if mode == MODE_FERNET and self.mode == MODE_INSECURE:
            raise NetStructerError(StatusCode.FAILED_PRECONDITION,
                                   "this server runs in insecure mode")
        if mode == MODE_INSECURE:
            self._server_hello = (MAGIC + bytes([mode]) + self._nonce + bytes(64))
            self.complete = True
            return self._server_hello
        for index, key in enumerate(self.keys):
            if hmac.compare_digest(key.key_id, key_id):
                break
        else:
            raise NetStructerError(StatusCode.UNAUTHENTICATED, KEY_NOT_ACCEPTED)
        if not hmac.compare_digest(_hmac(binder_key(key.raw), payload[:85]), binder):
            raise NetStructerError(StatusCode.UNAUTHENTICATED, KEY_NOT_ACCEPTED)
        if self._guard is not None:
            now = int(time.time()) if self._now is None else self._now
            self._guard.check_and_remember(nonce, stamp, now)
        private = (X25519PrivateKey.from_private_bytes(self._private_bytes)
                   if self._private_bytes is not None else X25519PrivateKey.generate())
        ss = _exchange(private, public)
        if ss is None:
            raise malformed("invalid X25519 public key")
        head = MAGIC + bytes([mode]) + self._nonce + _public(private)
        schedule = Schedule(key.raw, ss, payload, head)
        self._server_hello = head + schedule.server_finished
        schedule.complete(payload, self._server_hello)
        self.schedule = schedule
        self.key_index = index
        self._client_hello = payload
        return self._server_hello

    def on_client_finished(self, payload):
        if len(payload) != CLIENT_FINISHED_BYTES:
            raise NetStructerError(
                StatusCode.INVALID_ARGUMENT,
                f"malformed handshake: a ClientFinished has {CLIENT_FINISHED_BYTES} "
                f"bytes, got {len(payload)}")
        if not hmac.compare_digest(self.schedule.client_finished, bytes(payload)):
            raise NetStructerError(StatusCode.UNAUTHENTICATED, KEY_NOT_ACCEPTED)
        self.c2s, self.s2c = self.schedule.c2s, self.schedule.s2c
        self.complete = True

"""Fernet tokens in their binary form (docs/PROTOCOL.md 2).

``cryptography.fernet.Fernet`` works on the text form and draws its own IV
and clock; frames travel as binary tokens and the worked examples need a
given IV and time, so tokens are built here from cryptography's AES-CBC,
PKCS#7 and HMAC primitives. Opening checks, in the order the spec gives:
version and length, the TTL when one is given, the HMAC in constant time
(each key of a ring in turn), then decryption and unpadding. Every failure is
the same DATA_LOSS "invalid token".
"""

import hmac
import hashlib
import os
import struct
import time

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .errors import NetStructerError, StatusCode

VERSION = 0x80
MIN_TOKEN_BYTES = 73
MAX_CLOCK_SKEW_SECONDS = 60


def token_size(plaintext_bytes):
    """Bytes of the token of a plaintext of that many bytes."""
    return 25 + (plaintext_bytes // 16 + 1) * 16 + 32


def _invalid():
    return NetStructerError(StatusCode.DATA_LOSS, "invalid token")


def seal(key, plaintext, now=None, iv=None):
    """The binary token of ``plaintext`` under ``key`` (a keys.Key)."""
    if now is None:
        now = int(time.time())
    if iv is None:
        iv = os.urandom(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key.encryption), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    head = struct.pack(">BQ", VERSION, now) + iv
    body = head + ciphertext
    return body + hmac.new(key.signing, body, hashlib.sha256).digest()


def open_token(keys, token, ttl=None, now=None):
    """The plaintext of a binary token under any key of ``keys``.

    Returns ``(plaintext, index of the key that opened it)``.
    """
    token = bytes(token)
    if (len(token) < MIN_TOKEN_BYTES or token[0] != VERSION
            or (len(token) - 57) % 16 != 0):
        raise _invalid()
    if ttl is not None:
        if now is None:
            now = int(time.time())
        stamp = struct.unpack_from(">Q", token, 1)[0]
        if stamp + ttl < now or stamp > now + MAX_CLOCK_SKEW_SECONDS:
            raise _invalid()
    body, tag = token[:-32], token[-32:]
    for index, key in enumerate(keys):
        if hmac.compare_digest(hmac.new(key.signing, body, hashlib.sha256).digest(), tag):
            break
    else:
        raise _invalid()
    decryptor = Cipher(algorithms.AES(key.encryption),
                       modes.CBC(token[9:25])).decryptor()
    padded = decryptor.update(token[25:-32]) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        plaintext = unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise _invalid() from None
    return plaintext, index

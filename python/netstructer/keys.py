"""Pre-shared keys and key files (docs/PROTOCOL.md 1 and 7.6).

A key is 32 random bytes written as 44 characters of base64url with padding,
exactly as ``cryptography.fernet.Fernet.generate_key()`` and
``netstructer keygen`` write it: the first 16 bytes sign (HMAC-SHA256), the
last 16 encrypt (AES-128-CBC).
"""

import base64
import hashlib
import hmac
import os
import re
import stat

from .errors import NetStructerError, StatusCode

_KEY_TEXT = re.compile(r"^[A-Za-z0-9_-]{43}=$")


class Key:
    """One Fernet key: ``raw`` (32 bytes), ``signing``, ``encryption``."""

    __slots__ = ("raw", "signing", "encryption", "key_id")

    def __init__(self, raw):
        if not isinstance(raw, (bytes, bytearray)) or len(raw) != 32:
            raise NetStructerError(StatusCode.INVALID_ARGUMENT,
                                   "a key is 32 bytes")
        self.raw = bytes(raw)
        self.signing = self.raw[:16]
        self.encryption = self.raw[16:]
        self.key_id = hmac.new(self.raw, b"netstructer key id v1",
                               hashlib.sha256).digest()[:8]

    def text(self):
        return base64.urlsafe_b64encode(self.raw).decode("ascii")

    def __eq__(self, other):
        return isinstance(other, Key) and hmac.compare_digest(self.raw, other.raw)

    def __hash__(self):
        return hash(self.key_id)

    def __repr__(self):
        # Never the key itself: it ends up in logs.
        return f"Key(id={self.key_id.hex()})"


def parse_key(text):
    """A Key from its 44-character text (str or bytes), strictly decoded."""
    if isinstance(text, Key):
        return text
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("ascii")
        except UnicodeDecodeError:
            text = None
    if not isinstance(text, str) or not _KEY_TEXT.match(text.strip()):
        raise NetStructerError(
            StatusCode.INVALID_ARGUMENT,
            "a key is 44 characters of base64url with '=' padding "
            "(netstructer keygen, Fernet.generate_key())")
    raw = base64.urlsafe_b64decode(text.strip())
    if base64.urlsafe_b64encode(raw).decode("ascii") != text.strip():
        raise NetStructerError(StatusCode.INVALID_ARGUMENT,
                               "a key's base64 is not canonical")
    return Key(raw)


def generate_key():
    """A fresh key's text, as ``netstructer keygen`` prints it."""
    return Key(os.urandom(32)).text()


def parse_key_ring(text):
    """Keys of a key file's text: primary first; blank and '#' lines skipped."""
    keys = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            keys.append(parse_key(line))
        except NetStructerError as e:
            raise NetStructerError(StatusCode.INVALID_ARGUMENT,
                                   f"line {number}: {e.message}") from None
    if not keys:
        raise NetStructerError(StatusCode.INVALID_ARGUMENT,
                               "the key file holds no key")
    ids = [k.key_id for k in keys]
    if len(set(ids)) != len(ids):
        raise NetStructerError(StatusCode.INVALID_ARGUMENT,
                               "the key file holds one key twice")
    return keys


def load_key_file(path):
    """The key ring of a key file; refused when group or others can access it."""
    try:
        mode = os.stat(path).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise NetStructerError(
                StatusCode.PERMISSION_DENIED,
                f"{path}: group or others can access this key file "
                f"(mode {stat.S_IMODE(mode):04o}); chmod 600 it")
        with open(path, "r", encoding="ascii") as f:
            text = f.read()
    except OSError as e:
        raise NetStructerError(StatusCode.NOT_FOUND,
                               f"{path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise NetStructerError(StatusCode.INVALID_ARGUMENT,
                               f"{path}: not a key file") from None
    try:
        return parse_key_ring(text)
    except NetStructerError as e:
        raise NetStructerError(e.code, f"{path}: {e.message}") from None


def key_ring(key=None, key_file=None, keys=None):
    """The ring a Link or a Server uses, from exactly one of its arguments."""
    given = [x is not None for x in (key, key_file, keys)]
    if sum(given) != 1:
        raise NetStructerError(
            StatusCode.INVALID_ARGUMENT,
            "give exactly one of key=, key_file= or keys= "
            "(or insecure=True for a plaintext connection)")
    if key is not None:
        return [parse_key(key)]
    if key_file is not None:
        return load_key_file(key_file)
    ring = [parse_key(k) for k in keys]
    if not ring:
        raise NetStructerError(StatusCode.INVALID_ARGUMENT, "an empty key ring")
    if len({k.key_id for k in ring}) != len(ring):
        raise NetStructerError(StatusCode.INVALID_ARGUMENT,
                               "the key ring holds one key twice")
    return ring

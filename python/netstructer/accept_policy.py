"""Who a Server lets in (service/accept_policy.h's semantics, in Python).

Decided on the peer's address before a byte is read: allow/deny CIDR rules
(the most specific rule wins; at equal length deny wins; with any allow
rule, an address no rule matches is refused), sessions per IPv4 address or
IPv6 /64 (handshakes in progress included), sessions in all, new
connections per address per second (a token bucket), and a budget of
handshakes in progress in which a newcomer displaces the oldest handshake
instead of being refused, so silent sockets lock nobody out.
"""

import ipaddress
import threading
import time
from collections import OrderedDict

from .errors import NetStructerError, StatusCode


class AcceptPolicy:
    def __init__(self, allow=(), deny=(), max_sessions_per_ip=64,
                 max_sessions=10000, max_pending_handshakes=256,
                 ipv6_prefix_length=64, new_connections_per_ip_per_second=20.0,
                 new_connection_burst_per_ip=40, handshake_timeout=5.0,
                 idle_timeout=None, max_session_lifetime=None,
                 rate_limit_max_tracked_ips=65536):
        try:
            allow = [ipaddress.ip_network(c, strict=False) for c in allow]
            deny = [ipaddress.ip_network(c, strict=False) for c in deny]
        except ValueError as e:
            raise NetStructerError(StatusCode.INVALID_ARGUMENT,
                                   f"a bad CIDR rule: {e}") from None
        rules = [(n, False) for n in allow] + [(n, True) for n in deny]
        rules.sort(key=lambda r: (-r[0].prefixlen, not r[1]))
        self._rules = rules
        self._has_allow = bool(allow)
        self.max_sessions_per_ip = max_sessions_per_ip
        self.max_sessions = max_sessions
        self.max_pending_handshakes = max_pending_handshakes
        self.ipv6_prefix_length = ipv6_prefix_length
        self.rate = new_connections_per_ip_per_second
        self.burst = new_connection_burst_per_ip
        self.handshake_timeout = handshake_timeout
        self.idle_timeout = idle_timeout
        self.max_session_lifetime = max_session_lifetime
        self._max_tracked = rate_limit_max_tracked_ips
        self._lock = threading.Lock()
        self._per_ip = {}
        self._total = 0
        self._pending = 0
        self._buckets = OrderedDict()  # key -> (tokens, time)

    def check_rules(self, ip):
        address = ipaddress.ip_address(ip)
        for network, deny in self._rules:
            if address.version == network.version and address in network:
                if deny:
                    raise NetStructerError(StatusCode.PERMISSION_DENIED,
                                           f"{address} is denied by rule {network}")
                return
        if self._has_allow:
            raise NetStructerError(StatusCode.PERMISSION_DENIED,
                                   f"{address} is not in the allow list")

    def _limit_key(self, address):
        if address.version == 6 and address.ipv4_mapped is None:
            net = ipaddress.ip_network(f"{address}/{self.ipv6_prefix_length}", strict=False)
            return net, f"{net.network_address}/{self.ipv6_prefix_length}"
        return address, str(address)

    def _take_token(self, key, now):
        if self.rate <= 0:
            return True
        tokens, then = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        ok = tokens >= 1.0
        if ok:
            tokens -= 1.0
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self._max_tracked:
            self._buckets.popitem(last=False)
        return ok

    def admit(self, ip, displaceable=0, now=None):
        """An Admission (a slot for a handshake in progress), or raise the
        refusal. ``displaceable``: handshakes in progress that could give way.
        ``admission.displaces`` tells the caller to refuse its oldest one."""
        self.check_rules(ip)
        address = ipaddress.ip_address(ip)
        key, who = self._limit_key(address)
        now = time.monotonic() if now is None else now
        with self._lock:
            if not self._take_token(key, now):
                raise NetStructerError(
                    StatusCode.RESOURCE_EXHAUSTED,
                    f"too many new connections from {who} (limit {self.rate:g}/s, "
                    f"burst {self.burst})")
            held = self._per_ip.get(key, 0)
            if self.max_sessions_per_ip > 0 and held >= self.max_sessions_per_ip:
                raise NetStructerError(
                    StatusCode.RESOURCE_EXHAUSTED,
                    f"{who} already has {held} sessions (max_sessions_per_ip "
                    f"{self.max_sessions_per_ip})")
            full = self.max_sessions > 0 and self._total >= self.max_sessions
            handshakes_full = (self.max_pending_handshakes > 0
                               and self._pending >= self.max_pending_handshakes)
            displaces = (full or handshakes_full) and displaceable > 0 and self._pending > 0
            refusal = None
            if full:
                refusal = f"the server is at its session limit ({self.max_sessions})"
            elif handshakes_full:
                refusal = ("the server has too many handshakes in progress "
                           f"(max_pending_handshakes {self.max_pending_handshakes})")
            if refusal is not None and not displaces:
                raise NetStructerError(StatusCode.RESOURCE_EXHAUSTED, refusal)
            self._per_ip[key] = held + 1
            self._total += 1
            self._pending += 1
        return Admission(self, key, displaces, refusal)

    def _release(self, key, pending):
        with self._lock:
            self._per_ip[key] -= 1
            if not self._per_ip[key]:
                del self._per_ip[key]
            self._total -= 1
            if pending:
                self._pending -= 1

    def _establish(self):
        with self._lock:
            self._pending -= 1

    def sessions_for(self, ip):
        key, _ = self._limit_key(ipaddress.ip_address(ip))
        with self._lock:
            return self._per_ip.get(key, 0)


class Admission:
    """A slot held from admission until the session ends (release())."""

    def __init__(self, policy, key, displaces, refusal=None):
        self._policy = policy
        self._key = key
        self._pending = True
        self._held = True
        self.displaces = displaces
        # Why the newcomer is refused if no handshake can give way after all
        # (each may have completed since it was counted).
        self.refusal = refusal
        self._lock = threading.Lock()

    def establish(self):
        with self._lock:
            if self._held and self._pending:
                self._pending = False
                self._policy._establish()

    def release(self):
        with self._lock:
            if self._held:
                self._held = False
                self._policy._release(self._key, self._pending)

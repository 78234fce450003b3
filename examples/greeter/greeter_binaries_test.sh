#!/bin/bash
# The greeter server and client binaries end to end: a key from
# `netstructer keygen`, the server on 127.0.0.1:0, the client's exact output,
# the client's errors, and a clean exit of the server on SIGTERM.
# Usage: greeter_binaries_test.sh NETSTRUCTER SERVER CLIENT
# Needs bash >= 5.1 (wait -n -p).
set -u

netstructer="$1"
server="$2"
client="$3"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
# Every wait below is bounded by this (seconds).
timeout_s=10

failed=0
fail() {
  echo "FAIL: $*"
  failed=1
}

server_pid=""
cleanup() {
  if [[ -n "${server_pid}" ]] && kill -0 "${server_pid}" 2>/dev/null; then
    kill -KILL "${server_pid}" 2>/dev/null
  fi
}
trap cleanup EXIT

# A key, and a second one the server does not know.
(umask 077 && "${netstructer}" keygen > "${tmp}/greeter.key" &&
  "${netstructer}" keygen > "${tmp}/wrong.key") || {
  echo "FAIL: netstructer keygen"
  exit 1
}

# The server writes its address into a FIFO; `read -t` waits for that line
# (or for the server's exit: EOF) at most timeout_s seconds.
fifo="${tmp}/server.out"
rm -f "${fifo}"
mkfifo "${fifo}"
"${server}" --listen 127.0.0.1:0 --key-file "${tmp}/greeter.key" \
  > "${fifo}" 2> "${tmp}/server.err" &
server_pid=$!
exec 3< "${fifo}"
line=""
if ! read -r -t "${timeout_s}" -u 3 line; then
  echo "FAIL: the server printed no address within ${timeout_s} s; stderr:"
  cat "${tmp}/server.err"
  exit 1
fi
if [[ ! "${line}" =~ ^listening\ on\ (127\.0\.0\.1:[0-9]+)$ ]]; then
  echo "FAIL: unexpected first line from the server: '${line}'"
  exit 1
fi
address="${BASH_REMATCH[1]}"
echo "server: ${line}"

# Two names: SayHello for the first, then both through the stream.
got="$("${client}" --to "${address}" --key-file "${tmp}/greeter.key" \
  Alice Bob 2> "${tmp}/client.err")"
rc=$?
want=$'Hello, Alice\nHello, Alice\nHello, Bob'
if (( rc != 0 )); then
  fail "client exited ${rc}; stderr: $(cat "${tmp}/client.err")"
elif [[ "${got}" != "${want}" ]]; then
  fail "client printed:"$'\n'"${got}"$'\n'"expected:"$'\n'"${want}"
else
  echo "ok: client output"
fi

# A key the server does not know: exit 1, "error: UNAUTHENTICATED: ...".
got="$("${client}" --to "${address}" --key-file "${tmp}/wrong.key" \
  Alice 2> "${tmp}/client.err")"
rc=$?
err="$(cat "${tmp}/client.err")"
if (( rc != 1 )) || [[ -n "${got}" ]] ||
  [[ "${err}" != "error: UNAUTHENTICATED: "* ]]; then
  fail "wrong key: exit ${rc}, stdout '${got}', stderr '${err}'"
else
  echo "ok: wrong key: ${err}"
fi

# Bad arguments: usage on stderr, exit 2.
"${client}" --to "${address}" --key-file "${tmp}/greeter.key" \
  > /dev/null 2> "${tmp}/client.err"
rc=$?
if (( rc != 2 )) || ! grep -q '^usage: client' "${tmp}/client.err"; then
  fail "no names: exit ${rc}, stderr: $(cat "${tmp}/client.err")"
else
  echo "ok: no names is a usage error"
fi
"${server}" --listen 127.0.0.1:0 --bogus > /dev/null 2> "${tmp}/bad.err"
rc=$?
if (( rc != 2 )) || ! grep -q '^usage: server' "${tmp}/bad.err"; then
  fail "server --bogus: exit ${rc}, stderr: $(cat "${tmp}/bad.err")"
else
  echo "ok: server --bogus is a usage error"
fi

# SIGTERM: the server shuts down and exits 0. `wait -n` returns when the
# server or the timer (a plain sleep) ends, whichever is first.
kill -TERM "${server_pid}"
sleep "${timeout_s}" &
timer_pid=$!
wait -n -p ended_pid "${server_pid}" "${timer_pid}"
rc=$?
if [[ "${ended_pid:-}" != "${server_pid}" ]]; then
  fail "the server did not exit within ${timeout_s} s of SIGTERM"
else
  server_pid=""
  kill "${timer_pid}" 2>/dev/null
  if (( rc != 0 )); then
    fail "the server exited ${rc} after SIGTERM; stderr: $(cat "${tmp}/server.err")"
  else
    echo "ok: the server exited 0 after SIGTERM"
  fi
fi
exec 3<&-

exit "${failed}"

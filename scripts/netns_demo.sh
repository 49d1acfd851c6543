#!/usr/bin/env bash
# Real network delay and loss with Linux network namespaces and tc netem.
#
# Creates two network namespaces (a "client" and a "server" machine, each with its own
# network stack), joins them with a veth pair (a virtual cable) on a private /30 that exists
# only inside the two namespaces, runs distlab's echo server in one and its round-trip client
# in the other, and measures round trips: first over the bare cable, then with `tc netem`
# adding delay and loss to the packets the client sends. Everything is removed on exit.
#
# Usage:  sudo scripts/netns_demo.sh [DELAY_MS] [LOSS_PERCENT]     (defaults: 20 and 2)
#         COUNT=50 sudo -E scripts/netns_demo.sh                   (round trips per run)
#         PYTHON=/path/to/python  to choose the interpreter (default: the repo's .venv)
#
# When it cannot run (not Linux, not root, no `ip`/`tc`, namespaces not allowed, no netem in
# the kernel) it prints a line starting with "netns demo skipped:" (or "netem skipped:" after
# the baseline) saying why, and exits 0. Output lines for the measurements:
#   baseline: rtt n=20 min=... median=... p90=... max=... ms
#   netem delay=20ms loss=2%: rtt n=20 min=... median=... p90=... max=... ms
set -u

skip() { echo "netns demo skipped: $*"; exit 0; }

DELAY_MS=${1:-20}
LOSS=${2:-2}
COUNT=${COUNT:-20}
case "$DELAY_MS$LOSS$COUNT" in
  *[!0-9.]*) echo "usage: $0 [DELAY_MS] [LOSS_PERCENT]  (numbers, e.g. $0 20 2)" >&2; exit 2 ;;
esac

[ "$(uname -s)" = Linux ] || skip "network namespaces are a Linux feature (this is $(uname -s))"
[ "$(id -u)" = 0 ] || skip "it needs root: creating namespaces and tc qdiscs needs CAP_NET_ADMIN (try: sudo $0)"
command -v ip >/dev/null 2>&1 || skip "the 'ip' command is missing (Debian/Ubuntu: apt-get install iproute2)"
command -v tc >/dev/null 2>&1 || skip "the 'tc' command is missing (Debian/Ubuntu: apt-get install iproute2)"

REPO=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$REPO/.venv/bin/python" ]; then PYTHON="$REPO/.venv/bin/python"; else PYTHON=python3; fi
fi
export PYTHONPATH="$REPO/src${PYTHONPATH:+:$PYTHONPATH}"
"$PYTHON" -c "import distlab.net" 2>/dev/null || skip "$PYTHON cannot import distlab.net (set PYTHON=...)"

# Names unique to this run, so two runs never collide; interface names stay under 15 chars.
NS_CLIENT="distlab-client-$$"
NS_SERVER="distlab-server-$$"
VETH_CLIENT="dlc$$"
VETH_SERVER="dls$$"
# A private /30 that lives only inside the two namespaces: nothing outside them sees it.
ADDR_CLIENT=10.213.77.1
ADDR_SERVER=10.213.77.2
PORT=7000
SERVER_PID=""

cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  # Deleting a namespace also deletes the veth end inside it (and so the whole pair).
  ip netns del "$NS_CLIENT" 2>/dev/null
  ip netns del "$NS_SERVER" 2>/dev/null
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

err=$(ip netns add "$NS_CLIENT" 2>&1) ||
  skip "this kernel or container does not allow creating network namespaces ($err)"
err=$(ip netns add "$NS_SERVER" 2>&1) ||
  skip "could not create a second network namespace ($err)"
# The pair is created directly inside the namespaces: it never appears in the host's stack.
err=$(ip link add "$VETH_CLIENT" netns "$NS_CLIENT" type veth \
        peer name "$VETH_SERVER" netns "$NS_SERVER" 2>&1) ||
  skip "could not create a veth pair between the namespaces ($err)"
ip -n "$NS_CLIENT" addr add "$ADDR_CLIENT/30" dev "$VETH_CLIENT" &&
ip -n "$NS_SERVER" addr add "$ADDR_SERVER/30" dev "$VETH_SERVER" &&
ip -n "$NS_CLIENT" link set "$VETH_CLIENT" up &&
ip -n "$NS_SERVER" link set "$VETH_SERVER" up ||
  { echo "error: could not configure the veth pair" >&2; exit 1; }

echo "namespaces $NS_CLIENT ($ADDR_CLIENT) <-> $NS_SERVER ($ADDR_SERVER) joined by a veth pair"
ip netns exec "$NS_SERVER" "$PYTHON" -m distlab.net echo-server --allow-private \
  --listen "$ADDR_SERVER:$PORT" >/dev/null &
SERVER_PID=$!

measure() {  # $1: label; prints "<label>: rtt n=... ms"
  local out
  out=$(ip netns exec "$NS_CLIENT" "$PYTHON" -m distlab.net rtt --allow-private \
          --connect "$ADDR_SERVER:$PORT" --count "$COUNT" --timeout 5 --wait 5) ||
    { echo "error: the round-trip client failed: $out" >&2; exit 1; }
  echo "$1: $out"
}

measure "baseline"

err=$(tc -n "$NS_CLIENT" qdisc add dev "$VETH_CLIENT" root netem \
        delay "${DELAY_MS}ms" loss "${LOSS}%" 2>&1) ||
  { echo "netem skipped: tc netem is not available here ($err); this kernel probably lacks" \
         "the sch_netem module, so only the baseline was measured"; exit 0; }
echo "netem on $VETH_CLIENT: packets from client to server delayed ${DELAY_MS} ms, ${LOSS}% lost"
measure "netem delay=${DELAY_MS}ms loss=${LOSS}%"
echo "each round trip should be at least ${DELAY_MS} ms longer; a lost packet waits for TCP's" \
     "retransmission timer (200 ms or more), so loss shows up as latency"

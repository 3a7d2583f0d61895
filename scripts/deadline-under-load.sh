#!/usr/bin/env bash
# When does the answer come when the registry never answers and both cores are busy? A release
# `signet serve` with requestDeadline DEADLINE, its only registry a "black hole" (accepts TCP
# connections, never says a word), and BUSY other processes spinning on the CPU at the same
# priority. REQUESTS ProviderRequests of 3 keys are sent one after the other; every key must come
# back as a `timeout:` item, and the script prints the distribution of the answer times measured
# by the client (arrival of the whole answer), with how many came after the deadline.
#   scripts/deadline-under-load.sh [DEADLINE_MS=1000] [REQUESTS=100] [BUSY=2]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
DEADLINE_MS=${1:-1000}
REQUESTS=${2:-100}
BUSY=${3:-2}
cargo build -q --release -p signet --manifest-path "$ROOT/Cargo.toml"
SIGNET="$CARGO_TARGET_DIR/release/signet"

HOLE_PORT=$(free_port)
python3 - "$HOLE_PORT" <<'PY' &
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1024)
held = []
while True:
    c, _ = s.accept(); held.append(c)   # never read, never answer, never close
PY
PIDS+=($!)
sleep 0.3
REG=127.0.0.1:$HOLE_PORT
cat > "$WORK/template.yaml" <<EOF
server:
  listen: 127.0.0.1:@PROVIDER_PORT@
  plainHTTP: true
  healthListen: 127.0.0.1:@HEALTH_PORT@
  metricsListen: 127.0.0.1:@METRICS_PORT@
  requestDeadline: ${DEADLINE_MS}ms
registry:
  maxAttempts: 1
  hosts:
    "@REGISTRY@":
      plainHTTP: true
verifiers: []
EOF
start_provider "$SIGNET" "$WORK/template.yaml"

for _ in $(seq 1 "$BUSY"); do python3 -c 'while True: pass' & PIDS+=($!); done
echo "== requestDeadline ${DEADLINE_MS} ms, $BUSY busy process(es), $REQUESTS requests of 3 keys to a registry that never answers"
python3 - "$PROVIDER_PORT" "$REG" "$REQUESTS" "$DEADLINE_MS" <<'PY'
import http.client, json, sys, time
port, reg, n, deadline = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
took = []
for i in range(n):
    keys = [f"{reg}/hole/img-{i}-{k}:v1" for k in range(3)]
    body = json.dumps({"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderRequest", "request": {"keys": keys}})
    t0 = time.perf_counter()
    conn.request("POST", "/v1/verify", body=body, headers={"Content-Type": "application/json"})
    answer = json.loads(conn.getresponse().read())
    took.append((time.perf_counter() - t0) * 1000)
    items = answer["response"]["items"]
    assert len(items) == 3 and all(it["error"].startswith("timeout:") for it in items), answer
took.sort()
pct = lambda p: took[min(len(took) - 1, int(len(took) * p))]
late = sum(1 for t in took if t > deadline)
print(f"answer time ms: min {took[0]:.1f}  p50 {pct(0.5):.1f}  p90 {pct(0.9):.1f}  p99 {pct(0.99):.1f}  max {took[-1]:.1f}")
print(f"after the {deadline} ms deadline: {late} of {len(took)}")
PY

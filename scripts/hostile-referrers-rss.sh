#!/usr/bin/env bash
# Memory of the provider under a hostile referrers list (issue 9, point 1): a registry (the test
# kit's lying registry, repository lie/many*) answers the referrers of an image with 15,000 fake
# Notary Project signature descriptors (about 3.3 MB, under the 4 MiB manifest limit). A release
# `signet serve` with a notation verifier gets REQUESTS requests, each for a distinct image of
# that registry, plus one honest image of the same host after each, and the script prints the
# provider's RSS (VmRSS, /proc) before and after, the answers' reason codes and the slowest answer.
#   scripts/hostile-referrers-rss.sh [REQUESTS=20]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
REQUESTS=${1:-20}
cargo build -q --release -p signet -p signet-testkit --bin signet --bin lying-registry --manifest-path "$ROOT/Cargo.toml"
SIGNET="$CARGO_TARGET_DIR/release/signet"

"$CARGO_TARGET_DIR/release/lying-registry" > "$WORK/lying.addr" &
PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$WORK/lying.addr" ] && break; sleep 0.05; done
REG=$(cat "$WORK/lying.addr")

PROVIDER_PORT=$(free_port); HEALTH_PORT=$(free_port); METRICS_PORT=$(free_port)
cat > "$WORK/signet.yaml" <<YAML
server:
  listen: 127.0.0.1:$PROVIDER_PORT
  plainHTTP: true
  healthListen: 127.0.0.1:$HEALTH_PORT
  metricsListen: 127.0.0.1:$METRICS_PORT
  requestDeadline: 2.5s
registry:
  hosts:
    "$REG":
      plainHTTP: true
verifiers:
  - name: notation
    type: notation
    artifactTypes: [application/vnd.cncf.notary.signature]
    trustStores:
      ca:
        e2e: ["$ROOT/tests/vectors/notation/01-oci-e2e-jws/truststore/e2e.crt"]
    trustPolicyDoc:
      version: "1.0"
      trustPolicies:
        - name: all
          registryScopes: ["*"]
          signatureVerification: {level: strict}
          trustStores: [ca:e2e]
          trustedIdentities: ["*"]
YAML
"$SIGNET" serve --config "$WORK/signet.yaml" >"$WORK/signet.log" 2>&1 &
SIGNET_PID=$!
PIDS+=($SIGNET_PID)
wait_http "http://127.0.0.1:$HEALTH_PORT/readyz"

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$SIGNET_PID/status"; }
ask() {
  curl -s -o "$WORK/answer.json" -w '%{time_total}' -H 'Content-Type: application/json' \
    -d "{\"apiVersion\":\"externaldata.gatekeeper.sh/v1beta1\",\"kind\":\"ProviderRequest\",\"request\":{\"keys\":[\"$1\"]}}" \
    "http://127.0.0.1:$PROVIDER_PORT/v1/verify"
}
reason() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))["response"]["items"][0]; print(v["value"].get("errorReason","PASS"))' "$WORK/answer.json"; }

# One honest request first, so the baseline includes the runtime's and the allocator's start-up.
ask "$REG/honest/app:v1" >/dev/null
before=$(rss_kib)
slowest=0
declare -A reasons=()
for i in $(seq 1 "$REQUESTS"); do
  t=$(ask "$REG/lie/many-$i:v1"); r=$(reason)
  reasons[$r]=$(( ${reasons[$r]:-0} + 1 ))
  slowest=$(python3 -c "print(max($slowest, $t))")
  t=$(ask "$REG/honest/app-$i:v1"); r=$(reason)
  reasons["honest:$r"]=$(( ${reasons["honest:$r"]:-0} + 1 ))
done
after=$(rss_kib)
echo "requests: $REQUESTS hostile (15000 referrers each) + $REQUESTS honest, same registry host"
for k in "${!reasons[@]}"; do echo "  answers $k: ${reasons[$k]}"; done
echo "slowest hostile answer: ${slowest}s"
echo "VmRSS before: $((before / 1024)) MiB ($before KiB)"
echo "VmRSS after:  $((after / 1024)) MiB ($after KiB)"
echo "growth:       $(( (after - before) / 1024 )) MiB ($((after - before)) KiB)"

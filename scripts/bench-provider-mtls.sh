#!/usr/bin/env bash
# The warm path as Gatekeeper meets it: HTTPS with mTLS. A release `signet serve` with a serving
# certificate from a test CA and Gatekeeper's CA (another test CA) required of clients; the
# demo's registry, configuration and 300 more images, every verdict cached; the load generator
# (crates/cli/examples/loadgen.rs, which presents a client certificate) sends KEYS distinct images
# per request from CONNECTIONS connections for SECONDS, on the same 2 cores.
#   scripts/bench-provider-mtls.sh [SECONDS=10] [CONNECTIONS=8] [POOL=300]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
SECONDS_RUN=${1:-10}
CONNECTIONS=${2:-8}
POOL=${3:-300}
"$ROOT/scripts/install-test-deps.sh" >/dev/null
cargo build -q --release -p signet --example loadgen --manifest-path "$ROOT/Cargo.toml"
SIGNET="$CARGO_TARGET_DIR/release/signet"
LOADGEN="$CARGO_TARGET_DIR/release/examples/loadgen"

start_registry
push_samples
push_pool "$POOL"

# Test PKI: a serving CA and certificate for 127.0.0.1, and "Gatekeeper's" CA and client certificate.
PKI="$WORK/pki"; mkdir -p "$PKI"; cd "$PKI"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=signet bench CA" -keyout ca.key -out ca.crt 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" -keyout tls.key -out tls.csr 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > server.ext
openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out tls.crt 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=gatekeeper bench CA" -keyout gk-ca.key -out gk-ca.crt 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=gatekeeper-webhook" -keyout client.key -out client.csr 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' > client.ext
openssl x509 -req -in client.csr -CA gk-ca.crt -CAkey gk-ca.key -CAcreateserial -days 2 -extfile client.ext -out client.crt 2>/dev/null
openssl pkcs8 -topk8 -nocrypt -in client.key -out client.pk8 2>/dev/null
cat client.crt client.pk8 > client.pem
cd - >/dev/null

# The demo's configuration over HTTPS with mTLS, verdicts cached.
{ sed -e '/^  plainHTTP: true$/d' -e '/^cache:/,$d' "$ROOT/scripts/demo-config.yaml" \
    | sed -e "s|^  requestDeadline: 2.5s|  requestDeadline: 2.5s\n  tls:\n    certFile: $PKI/tls.crt\n    keyFile: $PKI/tls.key\n    clientCAFile: $PKI/gk-ca.crt|"
  printf 'cache:\n  ttl: 600s\n  tagTTL: 600s\n'; } > "$WORK/template.yaml"
PROVIDER_PORT=$(free_port); HEALTH_PORT=$(free_port); METRICS_PORT=$(free_port)
CONFIG="$WORK/signet.yaml"
sed -e "s/@REGISTRY@/$REG/g" -e "s|@ROOT@|$ROOT|g" -e "s|@WORK@|$WORK|g" -e "s/@PROVIDER_PORT@/$PROVIDER_PORT/g" \
    -e "s/@HEALTH_PORT@/$HEALTH_PORT/g" -e "s/@METRICS_PORT@/$METRICS_PORT/g" "$WORK/template.yaml" > "$CONFIG"
"$SIGNET" config check "$CONFIG"
"$SIGNET" serve --config "$CONFIG" >"$WORK/signet.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$HEALTH_PORT/readyz"
URL="https://127.0.0.1:$PROVIDER_PORT/v1/verify"

# Warm every verdict once (one key per request, 8 at a time is plenty).
"$LOADGEN" --url "$URL" --ca "$PKI/ca.crt" --identity "$PKI/client.pem" --keys-file "$KEYS_FILE" \
  --per-request "$(wc -l < "$KEYS_FILE")" --connections 1 --seconds 1 >/dev/null
for per in 10 1; do
  echo "== mTLS, warm, $per distinct image(s) per request, $CONNECTIONS connections, ${SECONDS_RUN}s"
  "$LOADGEN" --url "$URL" --ca "$PKI/ca.crt" --identity "$PKI/client.pem" --keys-file "$KEYS_FILE" \
    --per-request "$per" --connections "$CONNECTIONS" --seconds "$SECONDS_RUN"
done
echo "== without a client certificate: refused"
curl -s -o /dev/null -w '%{http_code}\n' --cacert "$PKI/ca.crt" -X POST "$URL" -d '{}' || echo "handshake refused (as it must be)"

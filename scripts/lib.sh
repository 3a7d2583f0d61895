# Shared by scripts/demo.sh and scripts/bench-provider.sh: a local registry with sample images and
# a running provider, all on 127.0.0.1, stopped by `fixture_cleanup` (installed as an EXIT trap).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/signet-target}
TOOLS=${SIGNET_TOOLS:-$HOME/.cache/signet-tools}
VECTORS=${SIGNET_VECTORS:-$ROOT/tests/vectors}
WORK=$(mktemp -d)
PIDS=()

fixture_cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap fixture_cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_http() { for _ in $(seq 1 200); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "timed out waiting for $1" >&2; return 1; }

# start_registry: ferro-oci-server (referrers API) on a free port; sets REG.
start_registry() {
  REG=127.0.0.1:$(free_port)
  FERRO_OCI_LISTEN=$REG FERRO_OCI_STORAGE_DIR="$WORK/registry" "$TOOLS/bin/ferro-oci-server" >"$WORK/registry.log" 2>&1 &
  PIDS+=($!)
  wait_http "http://$REG/v2/"
}

# push_samples: demo/app:v1 (SBOM via oras attach + cosign .sig), demo/notation-signed:v1 (Notary
# Project signature from the shared vectors), demo/unsigned:v1. Real oras and cosign CLIs.
push_samples() {
  local oras="$TOOLS/bin/oras" cosign="$TOOLS/bin/cosign"
  mkdir -p "$WORK/home" "$WORK/content"
  (
    export HOME="$WORK/home" COSIGN_PASSWORD="" COSIGN_YES=true
    cd "$WORK/content"
    echo "demo application v1" > app.txt
    "$oras" push --plain-http "$REG/demo/app:v1" app.txt:application/vnd.oci.image.layer.v1.tar >/dev/null
    echo '{"spdxVersion":"SPDX-2.3","name":"demo-app","packages":[]}' > sbom.spdx.json
    "$oras" attach --plain-http --artifact-type application/spdx+json "$REG/demo/app:v1" sbom.spdx.json:application/spdx+json >/dev/null
    "$cosign" generate-key-pair >/dev/null 2>&1
    local digest
    digest=$("$oras" resolve --plain-http "$REG/demo/app:v1")
    "$cosign" sign --key cosign.key --tlog-upload=false --allow-http-registry "$REG/demo/app@$digest" >/dev/null 2>&1
    "$oras" cp -r --from-oci-layout --to-plain-http \
      "$VECTORS/notation/01-oci-e2e-jws/layouts/e2e-valid-signature:v1" "$REG/demo/notation-signed:v1" >/dev/null
    echo "just an image" > plain.txt
    "$oras" push --plain-http "$REG/demo/unsigned:v1" plain.txt:application/vnd.oci.image.layer.v1.tar >/dev/null
  )
}

# start_provider SIGNET_BIN CONFIG_TEMPLATE: fills the template, checks it, starts `signet serve`;
# sets PROVIDER_PORT, HEALTH_PORT, METRICS_PORT, CONFIG.
start_provider() {
  local signet=$1 template=$2
  PROVIDER_PORT=$(free_port); HEALTH_PORT=$(free_port); METRICS_PORT=$(free_port)
  CONFIG="$WORK/signet.yaml"
  sed -e "s/@REGISTRY@/$REG/g" -e "s|@ROOT@|$ROOT|g" -e "s|@WORK@|$WORK|g" -e "s/@PROVIDER_PORT@/$PROVIDER_PORT/g" \
      -e "s/@HEALTH_PORT@/$HEALTH_PORT/g" -e "s/@METRICS_PORT@/$METRICS_PORT/g" \
      "$template" > "$CONFIG"
  "$signet" config check "$CONFIG"
  "$signet" serve --config "$CONFIG" >"$WORK/signet.log" 2>&1 &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$HEALTH_PORT/readyz"
}

# push_pool N: N more small unsigned images pool/img-1..N:v1 (oras), and KEYS_FILE listing the
# demo's three images and the pool's, one reference a line.
push_pool() {
  local n=$1
  (
    cd "$WORK/content"
    for i in $(seq 1 "$n"); do
      echo "pool image $i" > "pool-$i.txt"
      "$TOOLS/bin/oras" push --plain-http "$REG/pool/img-$i:v1" "pool-$i.txt:application/vnd.oci.image.layer.v1.tar" >/dev/null
    done
  )
  KEYS_FILE="$WORK/keys.txt"
  { echo "$REG/demo/app:v1"; echo "$REG/demo/notation-signed:v1"; echo "$REG/demo/unsigned:v1"
    for i in $(seq 1 "$n"); do echo "$REG/pool/img-$i:v1"; done; } > "$KEYS_FILE"
}

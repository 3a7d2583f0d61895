#!/usr/bin/env bash
# Load benchmark of the provider as Gatekeeper uses it: distinct images per request, not the same
# few keys (which single flight and the cache flatter). A release build of `signet serve`
# (plain HTTP on 127.0.0.1) against ferro-oci-server (referrers API) holding the demo's three
# images and POOL more images, with the demo's configuration (notation and cosign verifiers).
#
#   warm: every image verified once, then wrk POSTs /v1/verify with KEYS distinct images per
#         request drawn at random from the pool (KEYS=10 and KEYS=1): images/s and latency.
#   cold: the verdict cache off (ttl 0s, tagTTL 0s), one image per request, one connection,
#         each image once in turn; timed against the bare registry requests the same
#         verification needs (manifest by tag, referrers list, cosign .sig tag), made on one
#         keep-alive connection in the same run. Prints the ratio, with and without the
#         provider's own round trip (timed in the same run on a key refused without the registry).
#
#   scripts/bench-provider.sh [DURATION=10s] [CONNECTIONS=8] [POOL=300]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
DURATION=${1:-10s}
CONNECTIONS=${2:-8}
POOL=${3:-300}
command -v wrk >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
"$ROOT/scripts/install-test-deps.sh" >/dev/null
cargo build -q --release -p signet --manifest-path "$ROOT/Cargo.toml"
SIGNET="$CARGO_TARGET_DIR/release/signet"

start_registry
push_samples
echo "pushing $POOL more images"
push_pool "$POOL"

config_with() { # CACHE_TTL TAG_TTL -> a config template
  local out="$WORK/template-$1-$2.yaml"
  { grep -v '^cache:' "$ROOT/scripts/demo-config.yaml"; printf 'cache:\n  ttl: %s\n  tagTTL: %s\n  maxEntries: 100000\n' "$1" "$2"; } > "$out"
  echo "$out"
}

# wrk script: each request carries KEYS distinct keys drawn at random from the pool.
cat > "$WORK/distinct.lua" <<'LUA'
local keys = {}
for line in io.lines(os.getenv("KEYS_FILE")) do keys[#keys + 1] = line end
local per = tonumber(os.getenv("KEYS_PER_REQUEST"))
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local chosen, picked = {}, {}
  while #chosen < per do
    local i = math.random(#keys)
    if not picked[i] then picked[i] = true; chosen[#chosen + 1] = '"' .. keys[i] .. '"' end
  end
  local body = '{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":[' .. table.concat(chosen, ",") .. ']}}'
  return wrk.format(nil, nil, nil, body)
end
LUA

echo "== warm: verdicts cached (ttl 60s, tagTTL 30s), $(wc -l < "$KEYS_FILE") distinct images"
start_provider "$SIGNET" "$(config_with 60s 30s)"
python3 - "$PROVIDER_PORT" "$KEYS_FILE" <<'PY'
import json, sys, urllib.request
port, keys = sys.argv[1], [l.strip() for l in open(sys.argv[2]) if l.strip()]
body = json.dumps({"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderRequest", "request": {"keys": keys}}).encode()
answer = json.load(urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/v1/verify", body, {"Content-Type": "application/json"}), timeout=60))
errors = [i for i in answer["response"]["items"] if i.get("error")]
print(f"warmed {len(keys)} images ({len(errors)} item errors)")
PY
for per in 10 1; do
  echo "-- wrk -t2 -c$CONNECTIONS -d$DURATION, $per distinct image(s) per request"
  KEYS_FILE="$KEYS_FILE" KEYS_PER_REQUEST=$per wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$WORK/distinct.lua" \
    "http://127.0.0.1:$PROVIDER_PORT/v1/verify" > "$WORK/wrk.txt"
  grep -E "50%|90%|99%|Requests/sec|Non-2xx|Socket errors" "$WORK/wrk.txt"
  awk -v per="$per" '/Requests\/sec/ {printf "   images/s: %.0f\n", $2 * per}' "$WORK/wrk.txt"
done
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true; unset 'PIDS[-1]'

echo "== cold: cache off, one image per request, against the bare registry requests it needs"
start_provider "$SIGNET" "$(config_with 0s 0s)"
python3 - "$PROVIDER_PORT" "$REG" "$POOL" <<'PY'
import http.client, json, sys, time
port, reg, pool = sys.argv[1], sys.argv[2], int(sys.argv[3])
host, rport = reg.split(":")
images = [f"pool/img-{i}" for i in range(1, pool + 1)]
accept = ", ".join(["application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
                    "application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.distribution.manifest.list.v2+json"])

def bare(conn, repo):
    """The requests Signet makes for an unsigned image: the manifest by tag, the referrers list,
    cosign's .sig tag (404)."""
    conn.request("GET", f"/v2/{repo}/manifests/v1", headers={"Accept": accept})
    r = conn.getresponse(); body = r.read()
    digest = r.getheader("Docker-Content-Digest")
    conn.request("GET", f"/v2/{repo}/referrers/{digest}", headers={"Accept": "application/vnd.oci.image.index.v1+json"})
    r = conn.getresponse(); r.read()
    conn.request("GET", f"/v2/{repo}/manifests/{digest.replace(':', '-')}.sig", headers={"Accept": accept})
    r = conn.getresponse(); r.read()

def signet(conn, repo, expect="NO_SIGNATURE"):
    body = json.dumps({"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderRequest",
                       "request": {"keys": [f"{reg}/{repo}:v1"]}})
    conn.request("POST", "/v1/verify", body=body, headers={"Content-Type": "application/json"})
    r = conn.getresponse(); answer = json.loads(r.read())
    item = answer["response"]["items"][0]
    assert item["value"]["errorReason"] == expect, item

def hop(conn, repo):
    """The provider's own round trip: a key it refuses without any registry request (an
    upper-case repository is not a reference), so what is left is HTTP, JSON and this client."""
    signet(conn, repo.upper(), "INVALID_REFERENCE")

reg_conn = http.client.HTTPConnection(host, int(rport))
sig_conn = http.client.HTTPConnection("127.0.0.1", int(port))
bare(reg_conn, images[0]); signet(sig_conn, images[0])  # connections up, tokens none (no auth)
rounds = 3
t_bare = t_signet = t_hop = 0.0
for _ in range(rounds):
    for repo in images:
        t0 = time.perf_counter(); bare(reg_conn, repo); t1 = time.perf_counter()
        signet(sig_conn, repo); t2 = time.perf_counter()
        hop(sig_conn, repo); t3 = time.perf_counter()
        t_bare += t1 - t0; t_signet += t2 - t1; t_hop += t3 - t2
n = rounds * len(images)
ms = lambda t: f"{t / n * 1000:.3f} ms"
print(f"images: {n}; bare registry requests: {ms(t_bare)} per image; "
      f"signet cold verification: {ms(t_signet)} per image, of which the provider's own round trip "
      f"(a key refused without the registry) {ms(t_hop)}")
print(f"ratio with the provider's round trip: {t_signet / t_bare:.2f}x; "
      f"without it (the verification's registry work against the bare requests): {(t_signet - t_hop) / t_bare:.2f}x")
PY

#!/usr/bin/env bash
# Two replicas sharing verdicts through Redis (issue 12: "two replicas with Redis"; "added latency
# per L1 miss on loopback < 1 ms"). Release `signet serve` replicas A and B (the demo's notation
# and cosign verifiers, cache.redis on a private redis-server on 127.0.0.1 with a password and an
# HMAC key) against ferro-oci-server holding the demo's three images and POOL unsigned ones. Every
# phase asks for every image once, one image per request, in turn on one keep-alive connection:
#
#   A cold    A verifies each image (L1 miss, Redis miss) and shares the verdict;
#   B         B has nothing in memory: it resolves the tag, misses L1, finds the verdict in Redis;
#   A warm    A again: tag and verdict in memory (L1 hit), nothing else;
#   bare      raw GETs of the stored entries on one connection to Redis (RESP from python): the
#             bare Redis round trip on this machine;
#   stalled   redis-server stopped (SIGSTOP): B asked for 10 images it has not seen: the first
#             lookup waits for cache.redis.timeout (50 ms), the others skip Redis;
#   down      redis-server killed: A (its link was up) asked for 20 images it has not seen, then
#             a third replica C started while Redis is down asked for 20 of the pool. Every
#             image in these two phases is answered, verified afresh.
#
# Prints per-request latency per phase, the B/A ratios, and the time Redis lookups added to the
# answers (signet_cache_redis_duration_seconds{op="get"}: on B hits, on A misses). Exits non-zero
# when an answer is missing or not the expected verdict, or a counter disagrees with what the
# phases asked for.
#   scripts/bench-redis.sh [POOL=300]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
POOL=${1:-300}
DOWN=20
STALL=10
for t in ferro-oci-server oras cosign; do
  [ -x "$TOOLS/bin/$t" ] || { echo "$TOOLS/bin/$t is missing: run scripts/install-test-deps.sh" >&2; exit 1; }
done
for t in redis-server redis-cli; do
  command -v "$t" >/dev/null || { echo "$t is missing: run scripts/install-test-deps.sh" >&2; exit 1; }
done
cargo build -q --release -p signet --manifest-path "$ROOT/Cargo.toml"
SIGNET="$CARGO_TARGET_DIR/release/signet"

start_registry
push_samples
echo "pushing $POOL more images, and $STALL + $DOWN for the Redis-stalled and Redis-down phases"
push_pool "$POOL"
(
  cd "$WORK/content"
  for set in "stall $STALL" "down $DOWN"; do
    read -r name n <<<"$set"
    for i in $(seq 1 "$n"); do
      echo "$name image $i" > "$name-$i.txt"
      "$TOOLS/bin/oras" push --plain-http "$REG/$name/img-$i:v1" "$name-$i.txt:application/vnd.oci.image.layer.v1.tar" >/dev/null
    done
  done
)
STALL_KEYS="$WORK/stall-keys.txt" DOWN_KEYS="$WORK/down-keys.txt"
for i in $(seq 1 "$STALL"); do echo "$REG/stall/img-$i:v1"; done > "$STALL_KEYS"
for i in $(seq 1 "$DOWN"); do echo "$REG/down/img-$i:v1"; done > "$DOWN_KEYS"
NKEYS=$(wc -l < "$KEYS_FILE")

# Redis: no persistence, a random password (in its config file, not on a command line).
REDIS_PORT=$(free_port)
python3 -c 'import secrets; print(secrets.token_hex(24))' > "$WORK/redis-password"
python3 -c 'import secrets; print(secrets.token_hex(32))' > "$WORK/hmac.key"
chmod 600 "$WORK/redis-password" "$WORK/hmac.key"
cat > "$WORK/redis.conf" <<EOF
bind 127.0.0.1
port $REDIS_PORT
save ""
appendonly no
daemonize no
dir $WORK
requirepass $(cat "$WORK/redis-password")
EOF
redis-server "$WORK/redis.conf" >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
# SIGKILL first: a stopped (SIGSTOP) redis-server would sit on the SIGTERM fixture_cleanup sends
trap 'kill -KILL "$REDIS_PID" 2>/dev/null || true; fixture_cleanup' EXIT
export REDISCLI_AUTH
REDISCLI_AUTH=$(cat "$WORK/redis-password")
rcli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
for _ in $(seq 1 100); do [ "$(rcli PING 2>/dev/null)" = PONG ] && break; sleep 0.1; done
[ "$(rcli PING)" = PONG ] || { echo "redis-server did not start:" >&2; cat "$WORK/redis.log" >&2; exit 1; }

# The demo's configuration with the shared cache. Failed verdicts (the pool's NO_SIGNATURE) are
# kept as long as passing ones: the default negativeTTL of 10 s would expire them mid-run.
{ grep -v '^cache:' "$ROOT/scripts/demo-config.yaml"
  cat <<EOF
cache:
  ttl: 3600s
  tagTTL: 3600s
  negativeTTL: 3600s
  maxEntries: 100000
  redis:
    url: redis://127.0.0.1:$REDIS_PORT/0
    passwordFile: "$WORK/redis-password"
    hmacKeyFile: "$WORK/hmac.key"
EOF
} > "$WORK/template.yaml"

# start_replica NAME: its own config, ports and log ($WORK/signet-NAME.{yaml,log}); sets
# NAME_PORT (provider), NAME_METRICS, NAME_PID.
start_replica() {
  local name=$1 port health metrics cfg="$WORK/signet-$1.yaml"
  port=$(free_port); health=$(free_port); metrics=$(free_port)
  sed -e "s/@REGISTRY@/$REG/g" -e "s|@ROOT@|$ROOT|g" -e "s|@WORK@|$WORK|g" -e "s/@PROVIDER_PORT@/$port/g" \
      -e "s/@HEALTH_PORT@/$health/g" -e "s/@METRICS_PORT@/$metrics/g" "$WORK/template.yaml" > "$cfg"
  "$SIGNET" config check "$cfg" >"$WORK/check-$name.log" 2>&1 || { cat "$WORK/check-$name.log" >&2; return 1; }
  "$SIGNET" serve --config "$cfg" >"$WORK/signet-$name.log" 2>&1 &
  PIDS+=($!)
  printf -v "${name}_PID" %s "$!"
  printf -v "${name}_PORT" %s "$port"
  printf -v "${name}_METRICS" %s "$metrics"
  wait_http "http://127.0.0.1:$health/readyz"
}
snapshot() { curl -sf "http://127.0.0.1:$2/metrics" > "$WORK/metrics-$1.txt"; } # LABEL METRICS_PORT

cat > "$WORK/bench.py" <<'PY'
import http.client, json, math, socket, sys, time

def expected(key):
    """(isSuccess, errorReason) the demo's configuration gives each image."""
    if "/demo/app:" in key or "/demo/notation-signed:" in key:
        return (True, None)
    return (False, "NO_SIGNATURE")

def verify(port, keys_file, out, record, mode):
    """Each key once, one per request, in turn on one keep-alive connection. mode: record (write
    the verdicts to `record`), same (each verdict exactly the recorded one: same JSON, same trace
    id), fresh (the expected verdict, verified again)."""
    keys = [l.strip() for l in open(keys_file) if l.strip()]
    seen = json.load(open(record)) if mode == "same" else {}
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
    conn.connect()
    lat, verdicts, bad = [], {}, []
    for key in keys:
        body = json.dumps({"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderRequest",
                           "request": {"keys": [key]}})
        t0 = time.perf_counter()
        conn.request("POST", "/v1/verify", body=body, headers={"Content-Type": "application/json"})
        r = conn.getresponse(); raw = r.read()
        lat.append(time.perf_counter() - t0)
        try:
            items = json.loads(raw)["response"]["items"]
        except Exception as e:
            bad.append((key, f"HTTP {r.status}: {raw[:200]!r}")); continue
        if r.status != 200 or len(items) != 1 or items[0].get("key") != key:
            bad.append((key, f"HTTP {r.status}: {items!r}"[:300])); continue
        item = items[0]; v = item.get("value")
        if item.get("error") or not isinstance(v, dict):
            bad.append((key, item)); continue
        if (v.get("isSuccess"), v.get("errorReason")) != expected(key):
            bad.append((key, f"expected {expected(key)}, got {(v.get('isSuccess'), v.get('errorReason'))}: {v.get('message')}")); continue
        if mode == "same" and v != seen.get(key):
            bad.append((key, f"not the verdict recorded from A (trace id {v.get('traceID')}, A's "
                             f"{(seen.get(key) or {}).get('traceID')}): verified again instead of shared?")); continue
        verdicts[key] = v
    if bad:
        print(f"{len(bad)} of {len(keys)} answers missing or wrong, e.g.:", file=sys.stderr)
        for b in bad[:5]: print("  ", b, file=sys.stderr)
        sys.exit(1)
    if mode == "record":
        json.dump(verdicts, open(record, "w"))
    json.dump(lat, open(out, "w"))

def bare(port, password_file, out):
    """GET of every stored entry once, in turn on one connection (RESP by hand)."""
    s = socket.create_connection(("127.0.0.1", int(port)))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = s.makefile("rb")
    def cmd(*args):
        s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
        line = f.readline()
        if line[:1] == b"$":
            n = int(line[1:])
            return None if n < 0 else f.read(n + 2)[:-2]
        if line[:1] == b"*":
            return [cmd_read_bulk() for _ in range(int(line[1:]))]
        if line[:1] == b"-":
            raise RuntimeError(line.decode().strip())
        return line.strip()
    def cmd_read_bulk():
        n = int(f.readline()[1:]); return f.read(n + 2)[:-2]
    cmd(b"AUTH", open(password_file).read().strip().encode())
    keys = cmd(b"KEYS", b"signet:*")
    lat = []
    for k in keys:
        t0 = time.perf_counter()
        v = cmd(b"GET", k)
        lat.append(time.perf_counter() - t0)
        assert v, f"{k!r} vanished from Redis"
    json.dump(lat, open(out, "w"))
    print(f"bare: {len(keys)} GETs, entries of {min(map(len, [cmd(b'GET', k) for k in keys[:50]]))}.."
          f"{max(map(len, [cmd(b'GET', k) for k in keys[:50]]))} bytes")

def metrics(path):
    """{(name, frozenset(labels)): value} from an OpenMetrics text."""
    out = {}
    for line in open(path):
        if not line or line[0] == "#": continue
        head, _, value = line.rstrip("\n").rpartition(" ")
        name, labels = head, {}
        if "{" in head:
            name, _, rest = head.partition("{")
            for part in rest.rstrip("}").split(","):
                if part:
                    k, _, v = part.partition("="); labels[k] = v.strip('"')
        out[(name, frozenset(labels.items()))] = float(value)
    return out

def total(m, name, **want):
    return sum(v for (n, l), v in m.items() if n == name and all((k, x) in l for k, x in want.items()))

def by_label(m, name, label, **want):
    res = {}
    for (n, l), v in m.items():
        d = dict(l)
        if n == name and all(d.get(k) == x for k, x in want.items()) and v:
            res[d.get(label)] = res.get(d.get(label), 0) + v
    return res

def hist(m, name, **want):
    """count, mean, p50 and p99 bounds (the upper bound of the bucket each falls in)."""
    count = total(m, name + "_count", **want)
    s = total(m, name + "_sum", **want)
    buckets = sorted((float(dict(l)["le"]), v) for (n, l), v in m.items()
                     if n == name + "_bucket" and all((k, x) in l for k, x in want.items()))
    def q(p):
        for le, c in buckets:
            if c >= p * count: return le
        return math.inf
    return count, (s / count if count else math.nan), q(0.5), q(0.99), buckets

def pct(xs, p):
    xs = sorted(xs); return xs[max(0, math.ceil(p * len(xs)) - 1)]

def ms(x): return "inf" if x == math.inf else f"{x * 1000:.3f}"

def report(work, nkeys, nstall, ndown, nc):
    L = {n: json.load(open(f"{work}/lat-{n}.json")) for n in ("a-cold", "b", "a-warm", "bare", "b-stall", "a-down", "c-down")}
    M = {n: metrics(f"{work}/metrics-{n}.txt") for n in ("b-start", "a-cold", "b", "a-warm", "b-stall", "a-down", "c")}
    fails, goal = [], []
    def check(ok, what):
        if not ok: fails.append(what)
    get = setop = "signet_cache_redis_operations_total"
    reg = "signet_registry_requests_total"
    lookups = "signet_cache_lookups_total"
    a_get = by_label(M["a-cold"], get, "result", op="get")
    a_set = by_label(M["a-cold"], setop, "result", op="set")
    b_get = by_label(M["b"], get, "result", op="get")
    b_look = by_label(M["b"], lookups, "result")
    w_look = {k: v - by_label(M["a-cold"], lookups, "result").get(k, 0) for k, v in by_label(M["a-warm"], lookups, "result").items()}
    reg_a, reg_b = total(M["a-cold"], reg), total(M["b"], reg)
    reg_w = total(M["a-warm"], reg) - reg_a
    check(a_get == {"miss": nkeys}, f"A's Redis lookups in the cold phase: {a_get}, expected {nkeys} misses")
    check(a_set == {"stored": nkeys}, f"A's Redis writes: {a_set}, expected {nkeys} stored")
    check(b_get == {"hit": nkeys}, f"B's Redis lookups: {b_get}, expected {nkeys} hits")
    check(b_look.get("shared_hit") == nkeys, f"B's cache lookups: {b_look}, expected {nkeys} shared_hit")
    check(w_look.get("hit") == nkeys and not w_look.get("miss"), f"A's warm cache lookups: {w_look}, expected {nkeys} hits")
    check(reg_w == 0, f"A made {reg_w:.0f} registry requests in the warm phase, expected none")
    check(reg_b == nkeys, f"B made {reg_b:.0f} registry requests, expected one per tag ({nkeys})")
    c_up = total(M["c"], "signet_cache_redis_up")
    a_up = total(M["a-down"], "signet_cache_redis_up")
    check(c_up == 0, f"C's signet_cache_redis_up is {c_up}, expected 0")
    check(a_up == 0, f"A's signet_cache_redis_up after Redis was killed is {a_up}, expected 0")

    rows = [("A cold: verified (L1 miss, Redis miss)", "a-cold"), ("B: from Redis (tag resolved, L1 miss)", "b"),
            ("A warm: from memory (L1 hit)", "a-warm"), ("bare Redis GET (python, RESP)", "bare"),
            (f"B, Redis stalled: {nstall} new images", "b-stall"), (f"A, Redis killed: {ndown} new images", "a-down"), (f"C, started with Redis down: {nc} images", "c-down")]
    print()
    print(f"per-request latency, one image per request, in turn on one connection (ms)")
    print(f"{'phase':<44}{'n':>5}{'p50':>9}{'p90':>9}{'p99':>9}{'mean':>9}{'max':>9}")
    for title, n in rows:
        x = L[n]
        print(f"{title:<44}{len(x):>5}{ms(pct(x, .5)):>9}{ms(pct(x, .9)):>9}{ms(pct(x, .99)):>9}"
              f"{ms(sum(x) / len(x)):>9}{ms(max(x)):>9}")
    mean = lambda n: sum(L[n]) / len(L[n])
    print()
    print(f"B / A cold: p50 {pct(L['b'], .5) / pct(L['a-cold'], .5):.3f}, mean {mean('b') / mean('a-cold'):.3f}")
    print(f"B / A warm: p50 {pct(L['b'], .5) / pct(L['a-warm'], .5):.2f}, mean {mean('b') / mean('a-warm'):.2f}"
          f"  (B - A warm: p50 {ms(pct(L['b'], .5) - pct(L['a-warm'], .5))} ms; B also resolves the tag at the registry)")
    print(f"registry requests: A cold {reg_a:.0f} ({reg_a / nkeys:.2f} per image), B {reg_b:.0f} ({reg_b / nkeys:.2f} per image), A warm {reg_w:.0f}")
    print()
    print('time a Redis lookup added to an answer, signet_cache_redis_duration_seconds{op="get"}')
    print("(p50/p99: upper bound of the histogram bucket)")
    for title, m in (("B, L1 miss that hits Redis", M["b"]), ("A, L1 miss that misses Redis", M["a-cold"])):
        count, avg, p50, p99, buckets = hist(m, "signet_cache_redis_duration_seconds", op="get")
        print(f"  {title:<30} n {count:>5.0f}  mean {ms(avg)} ms  p50 <= {ms(p50)} ms  p99 <= {ms(p99)} ms")
        shown = [(le, c) for le, c in buckets if c][: 6]
        print("    cumulative: " + "  ".join(f"<={le * 1000:g} ms: {c:.0f}" for le, c in shown))
        goal.append(p99 <= 0.001)
    print(f"  goal (issue 12): added latency per L1 miss on loopback < 1 ms: {'met' if all(goal) else 'NOT met'} (p99 bucket bounds)")
    print()
    def since(after, before):
        b = by_label(before, get, "result", op="get")
        return {k: v - b.get(k, 0) for k, v in by_label(after, get, "result", op="get").items() if v - b.get(k, 0)}
    b_stall_get = since(M["b-stall"], M["b"])
    b_stall_up = total(M["b-stall"], "signet_cache_redis_up")
    print(f"Redis stalled: B's lookups {b_stall_get}, signet_cache_redis_up {b_stall_up:.0f}")
    print(f"  B: first answer {ms(L['b-stall'][0])} ms, then p50 {ms(pct(L['b-stall'][1:], .5))} max {ms(max(L['b-stall'][1:]))} ms")
    check(b_stall_get.get("timeout", 0) >= 1 and sum(b_stall_get.values()) == nstall and not b_stall_get.get("hit")
          and not b_stall_get.get("miss"), f"B's Redis lookups while Redis was stopped: {b_stall_get}, expected {nstall}, a timeout first")
    check(b_stall_up == 0, f"B's signet_cache_redis_up while Redis was stopped is {b_stall_up}, expected 0")
    a_down_get = since(M["a-down"], M["a-warm"])
    c_get = by_label(M["c"], get, "result", op="get")
    print(f"Redis down: A's lookups {a_down_get}, signet_cache_redis_up {a_up:.0f};"
          f" C's lookups {c_get}, signet_cache_redis_up {c_up:.0f}")
    print(f"  A: first answer {ms(L['a-down'][0])} ms, then p50 {ms(pct(L['a-down'][1:], .5))} max {ms(max(L['a-down'][1:]))} ms;"
          f" C: first answer {ms(L['c-down'][0])} ms, then p50 {ms(pct(L['c-down'][1:], .5))} max {ms(max(L['c-down'][1:]))} ms")
    check(sum(a_down_get.values()) == ndown, f"A's Redis lookups while down: {a_down_get}, expected {ndown}")
    check(sum(c_get.values()) == nc and not c_get.get("hit") and not c_get.get("miss"),
          f"C's Redis lookups: {c_get}, expected {nc} down/timeout/error")
    print()
    print(f"signet_cache_redis_up of B just after it started, before any lookup: "
          f"{total(M['b-start'], 'signet_cache_redis_up'):.0f}", end="")
    if fails:
        print()
        for f_ in fails: print("FAILED:", f_)
        sys.exit(1)

if __name__ == "__main__":
    a = sys.argv[1:]
    {"verify": lambda: verify(*a[1:6]), "bare": lambda: bare(*a[1:4]),
     "report": lambda: report(a[1], *map(int, a[2:6]))}[a[0]]()
PY
bench() { python3 "$WORK/bench.py" "$@"; }

start_replica A
start_replica B
sleep 0.3
snapshot b-start "$B_METRICS"
B_START_CONNECTED=$(grep -c 'Redis verdict cache connected' "$WORK/signet-B.log" || true)
echo "replicas A (:$A_PORT) and B (:$B_PORT) up; Redis on :$REDIS_PORT; $NKEYS images"

echo "== A cold: $NKEYS images verified"
bench verify "$A_PORT" "$KEYS_FILE" "$WORK/lat-a-cold.json" "$WORK/verdicts.json" record
# the writes happen after the answers, in the background: wait for A to count them all stored
stored() { curl -sf "http://127.0.0.1:$A_METRICS/metrics" | grep '^signet_cache_redis_operations_total{' \
  | grep 'op="set"' | grep 'result="stored"' | awk '{s += $2} END {print s + 0}'; }
for _ in $(seq 1 100); do [ "$(stored)" -ge "$NKEYS" ] && [ "$(rcli DBSIZE)" -ge "$NKEYS" ] && break; sleep 0.1; done
echo "Redis holds $(rcli DBSIZE) entries ($(rcli INFO memory | awk -F: '/^used_memory_human/ {print $2}' | tr -d '\r') used), e.g. $(rcli RANDOMKEY)"
[ "$(rcli DBSIZE)" -eq "$NKEYS" ] || { echo "expected $NKEYS entries in Redis" >&2; exit 1; }
snapshot a-cold "$A_METRICS"

echo "== B: the same images"
bench verify "$B_PORT" "$KEYS_FILE" "$WORK/lat-b.json" "$WORK/verdicts.json" same
snapshot b "$B_METRICS"

echo "== A warm: the same images"
bench verify "$A_PORT" "$KEYS_FILE" "$WORK/lat-a-warm.json" "$WORK/verdicts.json" same
snapshot a-warm "$A_METRICS"

echo "== bare: GET of each entry"
bench bare "$REDIS_PORT" "$WORK/redis-password" "$WORK/lat-bare.json"

echo "== Redis stalled: redis-server stopped (SIGSTOP)"
kill -STOP "$REDIS_PID"
bench verify "$B_PORT" "$STALL_KEYS" "$WORK/lat-b-stall.json" "$WORK/verdicts.json" fresh
snapshot b-stall "$B_METRICS"

echo "== Redis down: redis-server killed"
kill -KILL "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true
bench verify "$A_PORT" "$DOWN_KEYS" "$WORK/lat-a-down.json" "$WORK/verdicts.json" fresh
snapshot a-down "$A_METRICS"
start_replica C
head -n "$DOWN" <(grep /pool/ "$KEYS_FILE") > "$WORK/c-keys.txt"
bench verify "$C_PORT" "$WORK/c-keys.txt" "$WORK/lat-c-down.json" "$WORK/verdicts.json" fresh
snapshot c "$C_METRICS"

bench report "$WORK" "$NKEYS" "$STALL" "$DOWN" "$(wc -l < "$WORK/c-keys.txt")"
echo " (its log had said \"Redis verdict cache connected\" $B_START_CONNECTED time(s) by then)"

echo
for r in A B C; do # the text logs are coloured
  sed 's/\x1b\[[0-9;]*m//g' "$WORK/signet-$r.log" | grep -E '^[^ ]+ +(WARN|ERROR) ' > "$WORK/warn-$r.log" || true
  echo "replica $r log: $(wc -l < "$WORK/warn-$r.log") WARN/ERROR lines"
  head -5 "$WORK/warn-$r.log" | cut -c1-300
done

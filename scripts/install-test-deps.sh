#!/usr/bin/env bash
# Installs everything Signet's tests need on a fresh Debian 12 machine, idempotently.
#  - Debian packages: docker-registry (OCI registry without the referrers API), apache2-utils (htpasswd),
#    openssl, python3-venv.
#  - cosign and oras from Debian 13 (trixie) packages, extracted under $SIGNET_TOOLS (no change to the
#    system's apt sources).
#  - ferro-oci-server 1.0.0 (OCI registry with the referrers API) with cargo install.
#  - real OPA (PyPI opa-golib-python-bindings, pinned) in the venv, the tests' second Rego engine.
#  - the Helm v4 SDK (PyPI helm-python-sdk) and kubernetes-validate, pinned, for the chart tests
#    (tests/helm/crds.py uses the jsonschema and PyYAML that kubernetes-validate brings).
# Everything lands in $SIGNET_TOOLS (default ~/.cache/signet-tools); tests find it through
# scripts/env.sh.
set -euo pipefail
TOOLS=${SIGNET_TOOLS:-$HOME/.cache/signet-tools}
mkdir -p "$TOOLS/bin"

need_apt=()
command -v docker-registry >/dev/null 2>&1 || need_apt+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || need_apt+=(apache2-utils)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
# the shared verdict cache's tests start their own redis-server (the package's service is not used)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need_apt+=(redis-tools)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "install-test-deps: apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # docker-registry's postinst may try to start a service; there is no init here, which is fine.
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
# The Debian package starts nothing useful here; make sure no packaged instance holds port 5000.
pkill -f '/usr/bin/docker-registry serve /etc/docker/registry' 2>/dev/null || true

# cosign and oras from trixie, through a private apt state.
if [ ! -x "$TOOLS/root/usr/bin/cosign" ] || [ ! -x "$TOOLS/root/usr/bin/oras" ]; then
  echo "install-test-deps: fetching cosign and oras (Debian trixie packages)"
  APT="$TOOLS/apt"
  mkdir -p "$APT/sources" "$APT/lists/partial" "$APT/cache/archives/partial" "$TOOLS/debs"
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  uri=${uri:-http://deb.debian.org/debian}
  cat > "$APT/sources/trixie.sources" <<SRC
Types: deb
URIs: $uri
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$APT/sources"
        -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache" -o Debug::NoLocking=1)
  apt-get "${opts[@]}" update -qq
  (cd "$TOOLS/debs" && apt-get "${opts[@]}" download cosign oras)
  for deb in "$TOOLS"/debs/*.deb; do dpkg-deb -x "$deb" "$TOOLS/root"; done
fi
ln -sf "$TOOLS/root/usr/bin/cosign" "$TOOLS/bin/cosign"
ln -sf "$TOOLS/root/usr/bin/oras" "$TOOLS/bin/oras"

# ferro-oci-server: a registry that implements the OCI 1.1 referrers API.
if [ ! -x "$TOOLS/bin/ferro-oci-server" ]; then
  echo "install-test-deps: cargo install ferro-oci-server 1.0.0 (a few minutes on a cold machine)"
  CARGO_TARGET_DIR="$TOOLS/ferro-target" cargo install ferro-oci-server --version 1.0.0 --locked --root "$TOOLS" -q
fi

# pycose: an independent COSE implementation that makes the COSE_Sign1 test envelopes.
if ! "$TOOLS/venv/bin/python" -c 'import pycose' >/dev/null 2>&1; then
  echo "install-test-deps: python venv with pycose"
  command -v python3 >/dev/null 2>&1 || { apt-get install -y -qq python3 python3-venv >/dev/null; }
  python3 -m venv "$TOOLS/venv" 2>/dev/null || { apt-get install -y -qq python3-venv >/dev/null; python3 -m venv "$TOOLS/venv"; }
  "$TOOLS/venv/bin/pip" install -q pycose==1.1.0 cbor2==6.3.0
fi

# Real OPA (v1.20, Go, embedded through ctypes) as the tests' second Rego engine, next to regorus:
# tests/rego/opa_eval.py. The wheel declares Python >= 3.14 but runs on Debian 12's 3.11.
OPA_BINDINGS=0.4.4
if ! "$TOOLS/venv/bin/python" -c "import importlib.metadata as m, opa_bindings; assert m.version('opa-golib-python-bindings') == '$OPA_BINDINGS'" >/dev/null 2>&1; then
  echo "install-test-deps: opa-golib-python-bindings $OPA_BINDINGS (real OPA) into the venv"
  "$TOOLS/venv/bin/pip" install -q --ignore-requires-python "opa-golib-python-bindings==$OPA_BINDINGS"
fi

# The Helm SDK (no helm binary) and Kubernetes schema validation: tests/helm/chart.py.
HELM_SDK=0.2.2
KUBE_VALIDATE=1.37.0
if ! "$TOOLS/venv/bin/python" -c "import importlib.metadata as m, helm_python, kubernetes_validate; assert m.version('helm-python-sdk') == '$HELM_SDK'; assert m.version('kubernetes-validate') == '$KUBE_VALIDATE'" >/dev/null 2>&1; then
  echo "install-test-deps: helm-python-sdk $HELM_SDK and kubernetes-validate $KUBE_VALIDATE into the venv"
  "$TOOLS/venv/bin/pip" install -q "helm-python-sdk==$HELM_SDK" "kubernetes-validate==$KUBE_VALIDATE"
fi

"$TOOLS/bin/cosign" version >/dev/null 2>&1 || { echo "cosign does not run" >&2; exit 1; }
"$TOOLS/bin/oras" version >/dev/null 2>&1 || { echo "oras does not run" >&2; exit 1; }
"$TOOLS/venv/bin/python" -c 'from opa_bindings import OpaEngine; OpaEngine().eval_query("x := 1")' >/dev/null 2>&1 \
  || { echo "OPA (opa_bindings) does not run" >&2; exit 1; }
"$TOOLS/venv/bin/python" -c 'import helm_python; helm_python.helm_sdk_version()' >/dev/null 2>&1 \
  || { echo "the Helm SDK (helm_python) does not run" >&2; exit 1; }
echo "install-test-deps: ok ($TOOLS)"

#!/usr/bin/env python3
"""Evaluates Rego with real OPA (PyPI opa-golib-python-bindings, which embeds OPA v1's Go engine),
`external_data` emulated as Gatekeeper's builtin: it returns the answer given in the request and
records the keys the policy asked for.

The tests' second Rego engine (crates/cli/tests/support/rego.rs runs regorus and this, and
requires both to agree). Run with the venv of scripts/install-test-deps.sh.

Request on stdin (JSON):
  {"modules": [{"path": "template.rego", "source": "package ..."}],
   "input": {...},                         # the input document (optional)
   "query": "data.signetverification.violation",
   "external_data": {...} | null}          # what external_data returns; null: any call fails

Result on stdout (JSON), exit 0:
  {"defined": true, "value": <the document>, "calls": [[key, ...], ...]}
  {"defined": false, "calls": [...]}        # the document is undefined
Exit 1 with {"error": "..."}: the policy does not parse, compile or evaluate in OPA.
Exit 2 with {"error": "..."}: a bad request, or OPA is not installed.
"""

import json
import sys

INSTALL_HINT = (
    "real OPA (PyPI opa-golib-python-bindings) is not installed in this Python "
    f"({sys.executable}); run scripts/install-test-deps.sh"
)


def fail(code, message):
    json.dump({"error": message}, sys.stdout)
    sys.stdout.write("\n")
    sys.exit(code)


def main():
    try:
        from opa_bindings import OpaEngine, OpaError
    except ImportError as e:
        fail(2, f"{INSTALL_HINT} ({e})")

    try:
        req = json.load(sys.stdin)
        modules = req["modules"]
        query = req["query"]
    except (ValueError, KeyError, TypeError) as e:
        fail(2, f"bad request: {e!r}")
    if not isinstance(query, str) or not query.startswith("data."):
        fail(2, f"bad request: query must be a data.<path> reference, got {query!r}")
    answer = req.get("external_data")

    calls = []

    def external_data(request):
        # Gatekeeper's builtin takes {"provider": name, "keys": [...]}.
        keys = request.get("keys") if isinstance(request, dict) else None
        calls.append(list(keys) if isinstance(keys, list) else [])
        if answer is None:
            raise RuntimeError("external_data called but the request gave no answer")
        return answer

    engine = OpaEngine()
    try:
        engine.register_function("external_data", external_data, arity=1)
        for m in modules:
            engine.add_policy(m["path"], m["source"])
        # `value := data.x.y` binds nothing when the document is undefined.
        rs = engine.eval_query(f"value := {query}", req.get("input"))
    except OpaError as e:
        fail(1, f"OPA: {e}")
    finally:
        engine.close()

    if not rs:
        out = {"defined": False, "calls": calls}
    else:
        out = {"defined": True, "value": rs[0]["value"], "calls": calls}
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

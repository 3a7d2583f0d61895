"""The Helm v4 SDK (PyPI helm-python-sdk, no helm binary) and kubernetes-validate for the chart
tests (crates/cli/tests/helm_chart.rs). One JSON document in on argv, one JSON document out.

  chart.py render CHART VALUES_JSON   -> {"manifests": {template: text}} or {"error": message}
  chart.py lint CHART VALUES_JSON     -> the lint report {"messages": [...], "errors": [...]}
  chart.py validate FILE...           -> {"errors": {file: message}} (kubernetes-validate --strict)
"""
import json
import subprocess
import sys

import helm_python as helm


def main():
    cmd = sys.argv[1]
    if cmd == "render":
        chart = helm.Chart.load(sys.argv[2])
        values = json.loads(sys.argv[3])
        try:
            chart.validate_schema(values)
            out = {"manifests": chart.render(values, name="signet", namespace="signet-system", is_install=True)}
        except helm.HelmError as e:  # schema or template failure: the message the user sees
            out = {"error": str(e)}
    elif cmd == "lint":
        out = helm.lint(sys.argv[2], json.loads(sys.argv[3]), strict=True)
    elif cmd == "validate":
        errors = {}
        for f in sys.argv[2:]:
            r = subprocess.run(
                [sys.executable, "-m", "kubernetes_validate", "-k", "1.32.0", "--strict", f],
                capture_output=True, text=True,
            )
            if r.returncode != 0:
                errors[f] = (r.stdout + r.stderr).strip()
        out = {"errors": errors}
    else:
        raise SystemExit(f"unknown command {cmd}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()

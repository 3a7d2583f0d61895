"""The Helm v4 SDK (PyPI helm-python-sdk, no helm binary) and kubernetes-validate for the chart
tests (crates/cli/tests/helm_chart.rs). One JSON document in on argv, one JSON document out.

  chart.py render CHART VALUES_JSON   -> {"manifests": {template: text}} or {"error": message}
  chart.py render-args CHART ARGS_JSON -> the same, the values given as helm install flags
                                         (["--set", "a=b", "--set-file", "c[0]=f", ...]) and
                                         parsed by Helm's own strvals
  chart.py lint CHART VALUES_JSON     -> the lint report {"messages": [...], "errors": [...]}
  chart.py validate FILE...           -> {"errors": {file: message}} (kubernetes-validate --strict)
"""
import json
import subprocess
import sys

import helm_python as helm


def merge_into(base, extra):
    """Helm's strvals.ParseInto* semantics for a second set of flags on the same base: maps
    merge, lists merge by index, scalars are replaced."""
    if isinstance(base, dict) and isinstance(extra, dict):
        for k, v in extra.items():
            base[k] = merge_into(base[k], v) if k in base else v
        return base
    if isinstance(base, list) and isinstance(extra, list):
        for i, v in enumerate(extra):
            if i < len(base):
                if v is not None:
                    base[i] = merge_into(base[i], v)
            else:
                base.append(v)
        return base
    return extra


def values_from_flags(args):
    """The values `helm install` builds from its flags, in Helm's order: --set, --set-string,
    --set-file (each flag's expressions parsed into the same map, as Helm's ParseInto does:
    several flags of one kind are one comma-joined expression)."""
    flags = {"--set": [], "--set-string": [], "--set-file": []}
    it = iter(args)
    for flag in it:
        if flag not in flags:
            raise SystemExit(f"unsupported flag {flag}")
        flags[flag].append(next(it))
    values = {}
    parsers = {"--set": helm.parse_set_string, "--set-string": helm.parse_set_string_values,
               "--set-file": helm.parse_set_file}
    for flag, parse in parsers.items():
        if flags[flag]:
            values = merge_into(values, parse(",".join(flags[flag])))
    return values


def main():
    cmd = sys.argv[1]
    if cmd in ("render", "render-args"):
        chart = helm.Chart.load(sys.argv[2])
        try:
            if cmd == "render":
                values = json.loads(sys.argv[3])
            else:
                values = values_from_flags(json.loads(sys.argv[3]))
            chart.validate_schema(values)
            out = {"manifests": chart.render(values, name="signet", namespace="signet-system", is_install=True),
                   "values": values}
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

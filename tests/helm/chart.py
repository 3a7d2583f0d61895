"""The Helm v4 SDK (PyPI helm-python-sdk, no helm binary) and kubernetes-validate for the chart
tests (crates/cli/tests/helm_chart.rs). One JSON document in on argv, one JSON document out.

  chart.py render CHART VALUES_JSON   -> {"manifests": {template: text}} or {"error": message}
  chart.py render-args CHART ARGS_JSON -> the same, the values given as helm install flags
                                         (["--set", "a=b", "--set-file", "c[0]=f", ...]) and
                                         parsed by Helm's own strvals
  chart.py lint CHART VALUES_JSON     -> the lint report {"messages": [...], "errors": [...]}
  chart.py validate FILE...           -> {"errors": {file: message}} (kubernetes-validate --strict
                                         for built-in kinds, crds.py for custom resources)
"""
import json
import os
import sys

import helm_python as helm
import kubernetes_validate.utils as kubernetes_validate
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crds  # noqa: E402


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


def validate_files(files):
    """{file: message} for every object that fails: built-in kinds by kubernetes-validate
    --strict (Kubernetes 1.32), custom resources by crds.py against the published CRDs' schemas
    (Constraints against their ConstraintTemplate among the same files)."""
    objects = {}
    for f in files:
        with open(f) as fh:
            objects[f] = [o for o in yaml.safe_load_all(fh) if o is not None]
    templates = [o for docs in objects.values() for o in docs
                 if isinstance(o, dict) and o.get("kind") == "ConstraintTemplate"]
    errors = {}
    for f, docs in objects.items():
        found = []
        for obj in docs:
            if crds.known(obj):
                found += crds.validate(obj, templates)
                continue
            try:
                kubernetes_validate.validate(obj, "1.32.0", strict=True)
            except kubernetes_validate.ValidationError as e:
                found.append(f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}: "
                             f"{'.'.join(str(p) for p in e.path)}: {e.message}")
            except kubernetes_validate.SchemaNotFoundError as e:
                found.append(e.message)
        if found:
            errors[f] = "; ".join(found)
    return errors


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
        out = {"errors": validate_files(sys.argv[2:])}
    else:
        raise SystemExit(f"unknown command {cmd}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()

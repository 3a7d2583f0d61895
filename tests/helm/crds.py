"""Strict schema validation of the custom resources the chart and the library emit (Gatekeeper,
cert-manager, Prometheus operator), as kubernetes-validate --strict does for built-in kinds.

The schemas are JSON Schema (draft 2020-12) files in crd-schemas/, written from the published
CRDs (each file's "$comment" names its source). Every object schema with properties rejects
unknown fields unless the CRD marks it x-kubernetes-preserve-unknown-fields, as the API server's
strict field validation does. A Constraint's schema is built as Gatekeeper builds its CRD: the base
in constraint-constraints.gatekeeper.sh-v1beta1.json with spec.parameters from the
ConstraintTemplate defining the kind.

  validate(obj, templates) -> [error]  one object; templates: the ConstraintTemplates in scope
  known(obj) -> bool                   is there a schema for obj
  python crds.py FILE...               multi-document YAML files
                                       -> {"errors": {"FILE#N Kind/name": [error, ...]}}

N is the 0-based index of the document in FILE (empty documents counted). ConstraintTemplates are
collected from all FILEs first. Built-in kinds (core and *.k8s.io groups) are kubernetes-validate's
and skipped. Exit status 1 when any error.
"""
import copy
import functools
import json
import re
import sys
from pathlib import Path

import jsonschema
import yaml

SCHEMA_DIR = Path(__file__).resolve().with_name("crd-schemas")
CONSTRAINT_GROUP = "constraints.gatekeeper.sh"
# The versions Gatekeeper serves constraint CRDs at (frameworks crds.CreateCRD, ValidateCR).
CONSTRAINT_VERSIONS = ("v1beta1", "v1alpha1")
TEMPLATE_GROUP = "templates.gatekeeper.sh"
# Gatekeeper's only target handler (pkg/target: Name).
GATEKEEPER_TARGET = "admission.k8s.gatekeeper.sh"

# OpenAPI v3 keywords without a JSON Schema meaning for validation here.
_DROPPED = {"description", "example", "externalDocs", "nullable", "discriminator", "readOnly",
            "writeOnly", "xml", "deprecated", "title"}


def strict(schema, structural=True):
    """A CRD openAPIV3Schema (node) as strict JSON Schema draft 2020-12.

    Objects (typed object or with properties) get additionalProperties false unless they declare
    additionalProperties or x-kubernetes-preserve-unknown-fields: true (the API server prunes, and
    under strict field validation rejects, fields a structural schema does not specify). Inside
    allOf/anyOf/oneOf/not (value validation only in a structural schema) nothing is added.
    nullable adds null; x-kubernetes-int-or-string is integer or string; x-kubernetes-list-type
    set is uniqueItems (the API server rejects duplicates); other x- keys are ignored.
    """
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key in ("properties", "patternProperties"):
            out[key] = {name: strict(sub) for name, sub in value.items()}
        elif key == "additionalProperties":
            out[key] = strict(value) if isinstance(value, dict) else value
        elif key == "items":
            if isinstance(value, list):  # OpenAPI tuple form; not allowed in CRDs, kept faithful
                out["prefixItems"] = [strict(sub) for sub in value]
            else:
                out[key] = strict(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [strict(sub, structural=False) for sub in value]
        elif key == "not":
            out[key] = strict(value, structural=False)
        elif key.startswith("x-") or key in _DROPPED:
            continue
        else:
            out[key] = copy.deepcopy(value)
    if schema.get("x-kubernetes-int-or-string") is True and "type" not in schema:
        out["type"] = ["integer", "string"]
        # The anyOf [integer, string] CRDs spell it with says no more than that type.
        alternatives = out.get("anyOf", [])
        if all(set(alt) == {"type"} and alt["type"] in ("integer", "string") for alt in alternatives):
            out.pop("anyOf", None)
    if schema.get("x-kubernetes-list-type") == "set":
        out["uniqueItems"] = True
    if schema.get("nullable") is True:
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = types + ["null"] if "null" not in types else types
        if "enum" in out and None not in out["enum"]:
            out["enum"] = out["enum"] + [None]
    is_object = schema.get("type") == "object" or "properties" in schema
    preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
    if structural and is_object and not preserve and "additionalProperties" not in schema:
        out["additionalProperties"] = False
    return out


@functools.cache
def _load():
    """{(apiVersion, kind): schema} of the crd-schemas files, and the Constraint base schema."""
    by_gvk, constraint_base = {}, None
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        schema = json.loads(path.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        if path.name.startswith(f"constraint-{CONSTRAINT_GROUP}-"):
            constraint_base = schema
            continue
        props = schema["properties"]
        by_gvk[(props["apiVersion"]["const"], props["kind"]["const"])] = schema
    if constraint_base is None:
        raise RuntimeError(f"no Constraint base schema in {SCHEMA_DIR}")
    return by_gvk, constraint_base


def _group_version(obj):
    api_version = obj.get("apiVersion") if isinstance(obj, dict) else None
    if not isinstance(api_version, str):
        return None, None
    group, _, version = api_version.rpartition("/")
    return group, version


def _is_constraint(obj):
    group, _ = _group_version(obj)
    return group == CONSTRAINT_GROUP


def known(obj) -> bool:
    """Whether there is a schema for obj (any Constraint kind counts: its schema comes from a
    ConstraintTemplate)."""
    if not isinstance(obj, dict):
        return False
    if _is_constraint(obj):
        return _group_version(obj)[1] in CONSTRAINT_VERSIONS
    return (obj.get("apiVersion"), obj.get("kind")) in _load()[0]


def _label(obj):
    kind = obj.get("kind") if isinstance(obj.get("kind"), str) else "(no kind)"
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    name = meta.get("name") or meta.get("generateName") or "(unnamed)"
    return f"{kind}/{name}"


_PLAIN_KEY = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*")


def _path(parts):
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            out += ("." if out else "") + part
        else:
            out += f"[{json.dumps(part)}]"
    return out or "(root)"


def _json_type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _json(value):
    return json.dumps(value, default=str)


def _short(value):
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _messages(error):
    """(path parts, problem) pairs for one jsonschema error."""
    where = list(error.absolute_path)
    kind, expected, value = error.validator, error.validator_value, error.instance
    if kind == "additionalProperties" and expected is False and isinstance(value, dict):
        declared = error.schema.get("properties", {})
        patterns = [re.compile(p) for p in error.schema.get("patternProperties", {})]
        extra = [k for k in value if k not in declared and not any(p.search(k) for p in patterns)]
        return [(where + [k], "additional property not allowed") for k in extra]
    if kind == "required" and isinstance(value, dict):
        missing = [k for k in expected if k not in value]
        return [(where + [k], "required property missing") for k in missing]
    if kind == "type":
        wanted = " or ".join(expected) if isinstance(expected, list) else expected
        return [(where, f"must be of type {wanted}, got {_json_type(value)} {_short(value)}")]
    if kind == "enum":
        return [(where, f"must be one of {_json(expected)}, got {_short(value)}")]
    if kind == "const":
        return [(where, f"must be {_json(expected)}, got {_short(value)}")]
    if kind == "maxLength":
        return [(where, f"{_short(value)} is longer than {expected} characters")]
    if kind == "minLength":
        return [(where, f"{_short(value)} is shorter than {expected} characters")]
    if kind == "pattern":
        return [(where, f"{_short(value)} does not match pattern {expected}")]
    if kind in ("anyOf", "oneOf"):
        subs = sorted({f"{_path(parts)}: {problem}" for sub in error.context
                       for parts, problem in _messages(sub)})
        return [(where, f"matches none of the alternatives ({'; '.join(subs)})")]
    return [(where, error.message)]


def _schema_errors(obj, schema):
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    found = set()
    for error in validator.iter_errors(obj):
        for parts, problem in _messages(error):
            found.add((_path(parts), problem))
    return sorted(found)


def _template_kind(template):
    try:
        kind = template["spec"]["crd"]["spec"]["names"]["kind"]
    except (KeyError, TypeError):
        return None
    return kind if isinstance(kind, str) else None


def _parameters_schema(template):
    """The parameters schema Gatekeeper puts into the Constraint CRD for template: its
    openAPIV3Schema, with x-kubernetes-preserve-unknown-fields everywhere under legacySchema
    (default true for templates.gatekeeper.sh/v1beta1 and v1alpha1, false for v1); None when there
    is none (then a Constraint may not have spec.parameters)."""
    crd_spec = ((template.get("spec") or {}).get("crd") or {}).get("spec") or {}
    validation = crd_spec.get("validation") or {}
    legacy = validation.get("legacySchema")
    if legacy is None:
        legacy = _group_version(template)[1] != "v1"
    schema = validation.get("openAPIV3Schema")
    if schema is None:
        return {} if legacy else None  # legacy: any parameters
    schema = copy.deepcopy(schema)
    if legacy:
        _preserve_unknown(schema)
    return strict(schema)


def _preserve_unknown(schema):
    # As frameworks' schema.AddPreserveUnknownFields: objects (or untyped) keep unknown fields,
    # arrays without items get items that keep anything.
    if not isinstance(schema, dict):
        return
    if schema.get("type") in (None, "", "object"):
        schema["x-kubernetes-preserve-unknown-fields"] = True
    elif schema.get("type") == "array" and not schema.get("items"):
        schema["items"] = {"x-kubernetes-preserve-unknown-fields": True}
    for sub in (schema.get("properties") or {}).values():
        _preserve_unknown(sub)
    if isinstance(schema.get("items"), dict):
        _preserve_unknown(schema["items"])
    if isinstance(schema.get("additionalProperties"), dict):
        _preserve_unknown(schema["additionalProperties"])


def constraint_schema(kind, templates):
    """The schema of Constraint kind, or None when no ConstraintTemplate in templates defines it."""
    for template in templates:
        if not isinstance(template, dict) or _group_version(template)[0] != TEMPLATE_GROUP:
            continue
        if template.get("kind") != "ConstraintTemplate" or _template_kind(template) != kind:
            continue
        schema = copy.deepcopy(_load()[1])
        schema["properties"]["kind"] = {"const": kind}
        spec_props = schema["properties"]["spec"]["properties"]
        parameters = _parameters_schema(template)
        if parameters is None:
            del spec_props["parameters"]
        else:
            spec_props["parameters"] = parameters
        return schema
    return None


def _structural_errors(schema, where):
    # The CRD Gatekeeper generates must be structural: every node specifies a type unless it is
    # x-kubernetes-int-or-string or x-kubernetes-preserve-unknown-fields.
    if not isinstance(schema, dict):
        return [f"{where}: must be a schema object"]
    errors = []
    if not schema.get("type") and not schema.get("x-kubernetes-int-or-string") \
            and not schema.get("x-kubernetes-preserve-unknown-fields"):
        errors.append(f"{where}: type missing (the Constraint CRD Gatekeeper generates must have "
                      "a structural schema)")
    for name, sub in (schema.get("properties") or {}).items():
        errors += _structural_errors(sub, f"{where}.properties.{name}")
    if isinstance(schema.get("items"), dict):
        errors += _structural_errors(schema["items"], f"{where}.items")
    if isinstance(schema.get("additionalProperties"), dict):
        errors += _structural_errors(schema["additionalProperties"], f"{where}.additionalProperties")
    return errors


def _template_checks(obj):
    """What Gatekeeper's admission webhook checks of a ConstraintTemplate beyond its CRD schema
    (frameworks client.CreateCRD: validateTemplateMetadata, getTargetName; the webhook's
    validateTemplate)."""
    errors = []
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    kind = _template_kind(obj)
    name = (obj.get("metadata") or {}).get("name") if isinstance(obj.get("metadata"), dict) else None
    if not kind:
        errors.append("spec.crd.spec.names.kind: must be set (the Constraint kind)")
    elif name != kind.lower():
        errors.append(f"metadata.name: must be the lowercase of spec.crd.spec.names.kind "
                      f"({_json(kind.lower())}), got {_short(name)}")
    targets = spec.get("targets")
    if not isinstance(targets, list) or len(targets) != 1:
        errors.append("spec.targets: must declare exactly one target")
    else:
        target = targets[0] if isinstance(targets[0], dict) else {}
        if target.get("target") != GATEKEEPER_TARGET:
            errors.append(f"spec.targets[0].target: must be {_json(GATEKEEPER_TARGET)}, "
                          f"got {_short(target.get('target'))}")
        ops = target.get("operations") or []
        if "*" in ops and len(ops) > 1:
            errors.append("spec.targets[0].operations: with '*' no other operation may be given")
    validation = ((spec.get("crd") or {}).get("spec") or {}).get("validation") or {}
    legacy = validation.get("legacySchema")
    legacy = _group_version(obj)[1] != "v1" if legacy is None else legacy
    if "openAPIV3Schema" in validation and not legacy:
        errors += _structural_errors(validation["openAPIV3Schema"],
                                     "spec.crd.spec.validation.openAPIV3Schema")
    return errors


# Gatekeeper's util.ValidateEnforcementAction (the webhook's validateConstraint), unless Gatekeeper
# runs with --disable-enforcementaction-validation.
ENFORCEMENT_ACTIONS = ("deny", "dryrun", "warn", "scoped")
SCOPED_ACTIONS = ("deny", "dryrun", "warn")
ENFORCEMENT_POINTS = ("validation.gatekeeper.sh", "audit.gatekeeper.sh", "gator.gatekeeper.sh",
                      "vap.k8s.io", "*")


def _constraint_checks(obj):
    """What Gatekeeper's admission webhook checks of a Constraint beyond its CRD schema."""
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    action = spec.get("enforcementAction")
    if not isinstance(action, str) or action == "":
        return []  # absent: defaulted to deny; not a string: the schema reports it
    if action not in ENFORCEMENT_ACTIONS:
        return [f"spec.enforcementAction: must be one of {_json(ENFORCEMENT_ACTIONS)}, "
                f"got {_short(action)}"]
    if action != "scoped":
        return []
    scoped = spec.get("scopedEnforcementActions")
    if not isinstance(scoped, list):
        return ["spec.scopedEnforcementActions: required with enforcementAction scoped"]
    errors = []
    for i, entry in enumerate(scoped):
        entry = entry if isinstance(entry, dict) else {}
        where = f"spec.scopedEnforcementActions[{i}]"
        if entry.get("action") not in SCOPED_ACTIONS:
            errors.append(f"{where}.action: must be one of {_json(SCOPED_ACTIONS)}, "
                          f"got {_short(entry.get('action'))}")
        points = entry.get("enforcementPoints") or []
        if not points:
            errors.append(f"{where}.enforcementPoints: must name at least one enforcement point")
        for j, point in enumerate(points):
            name = point.get("name") if isinstance(point, dict) else None
            if name not in ENFORCEMENT_POINTS:
                errors.append(f"{where}.enforcementPoints[{j}].name: must be one of "
                              f"{_json(ENFORCEMENT_POINTS)}, got {_short(name)}")
    return errors


def validate(obj: dict, templates: list) -> list:
    """Error strings ("Kind/name: path: problem") for obj; empty when valid."""
    if not isinstance(obj, dict):
        return [f"(not an object): must be an object, got {_json_type(obj)}"]
    label = _label(obj)
    if _is_constraint(obj):
        version = _group_version(obj)[1]
        if version not in CONSTRAINT_VERSIONS:
            return [f"{label}: no schema for {obj.get('apiVersion')}: Gatekeeper serves Constraints "
                    f"at {', '.join(CONSTRAINT_GROUP + '/' + v for v in CONSTRAINT_VERSIONS)} only"]
        kind = obj.get("kind")
        schema = constraint_schema(kind, templates or [])
        if schema is None:
            return [f"{label}: no ConstraintTemplate defines kind {kind}"]
    else:
        schema = _load()[0].get((obj.get("apiVersion"), obj.get("kind")))
        if schema is None:
            return [f"{label}: no schema for {obj.get('apiVersion')} {obj.get('kind')}"]
    try:
        errors = [f"{label}: {path}: {problem}" for path, problem in _schema_errors(obj, schema)]
    except jsonschema.SchemaError as e:  # a ConstraintTemplate's parameters schema
        return [f"{label}: the schema for {obj.get('kind')} is invalid: {e.message}"]
    if _group_version(obj)[0] == TEMPLATE_GROUP and obj.get("kind") == "ConstraintTemplate":
        errors += [f"{label}: {e}" for e in _template_checks(obj)]
    if _is_constraint(obj):
        errors += [f"{label}: {e}" for e in _constraint_checks(obj)]
    return errors


def _builtin(obj):
    """Core and *.k8s.io kinds: kubernetes-validate's."""
    group, _ = _group_version(obj)
    return group is not None and ("." not in group or group.endswith(".k8s.io"))


def main(files):
    docs = []
    for f in files:
        with open(f) as fh:
            for i, obj in enumerate(yaml.safe_load_all(fh)):
                if obj is not None:
                    docs.append((f, i, obj))
    templates = [o for _, _, o in docs if isinstance(o, dict) and o.get("kind") == "ConstraintTemplate"
                 and _group_version(o)[0] == TEMPLATE_GROUP]
    errors = {}
    for f, i, obj in docs:
        if isinstance(obj, dict) and _builtin(obj):
            continue
        found = validate(obj, templates)
        if found:
            errors[f"{f}#{i} {_label(obj) if isinstance(obj, dict) else '(not an object)'}"] = found
    print(json.dumps({"errors": errors}, indent=1))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

//! The Helm chart's test tools: `tests/helm/chart.py` (the real Helm v4 SDK, PyPI
//! `helm-python-sdk`, and the strict validators) run in the tests' venv.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};

pub fn chart_dir() -> PathBuf {
    signet_testkit::workspace_root().join("charts/signet")
}

/// Runs `tests/helm/chart.py` with `args` in the tests' venv and returns its JSON answer.
pub fn chart_py(args: &[&str]) -> Value {
    let python = signet_testkit::tools_bin()
        .parent()
        .unwrap()
        .join("venv/bin/python");
    let script = signet_testkit::workspace_root().join("tests/helm/chart.py");
    let out = Command::new(&python)
        .arg(&script)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run scripts/install-test-deps.sh for the Helm SDK)",
                python.display()
            )
        });
    assert!(
        out.status.success(),
        "chart.py {:?}: {}",
        args.first(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The rendered objects, or the error Helm gives for these values.
pub fn render(values: &Value) -> Result<Vec<Value>, String> {
    let out = chart_py(&["render", chart_dir().to_str().unwrap(), &values.to_string()]);
    if let Some(e) = out["error"].as_str() {
        return Err(e.to_string());
    }
    Ok(objects_of(&out))
}

/// The documents of a render answer.
pub fn objects_of(out: &Value) -> Vec<Value> {
    let mut objects = Vec::new();
    for text in out["manifests"].as_object().unwrap().values() {
        // Helm separates the documents of one template with `---` lines.
        for doc in text.as_str().unwrap().split("\n---") {
            let v: Value = serde_yaml_ng::from_str(doc).unwrap();
            if !v.is_null() {
                objects.push(v);
            }
        }
    }
    objects
}

pub fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {objects:#?}"))
}

/// Every rendered object validated strictly: built-in kinds by `kubernetes-validate --strict`,
/// Gatekeeper's (Provider, Assign, ConstraintTemplate, Constraints against their template),
/// cert-manager's Certificate and the Prometheus ServiceMonitor by `tests/helm/crds.py` against
/// schemas written from the published CRDs (`tests/helm/crd-schemas/`).
pub fn validate_all(objects: &[Value], case: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        let f = dir.path().join(format!("object-{i}.yaml"));
        std::fs::write(&f, serde_yaml_ng::to_string(o).unwrap()).unwrap();
        files.push(f.display().to_string());
    }
    let mut args = vec!["validate"];
    args.extend(files.iter().map(String::as_str));
    let validated = chart_py(&args);
    assert_eq!(validated["errors"], json!({}), "{case}: {validated}");
}

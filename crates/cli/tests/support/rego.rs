//! Evaluates Rego, above all the shipped Gatekeeper template
//! (library/signet-verification/template.yaml), with two real engines and requires them to agree:
//!
//! - regorus, in process, parsing in its rego v0 mode as Gatekeeper does (the template opts into
//!   v1 syntax with `import rego.v1`, which Gatekeeper's parser honours too);
//! - real OPA v1 (Go), through `tests/rego/opa_eval.py` and the venv of
//!   `scripts/install-test-deps.sh` (PyPI `opa-golib-python-bindings`).
//!
//! `external_data` is emulated in both the way Gatekeeper builds it from a ProviderResponse: items
//! with an error go to `errors`, the rest to `responses`, `system_error` from the response. Both
//! record the keys each call asked for.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

/// The rule Gatekeeper reads from a template.
pub const VIOLATION: &str = "data.signetverification.violation";

/// The template's Rego source.
pub fn template_rego() -> String {
    library_rego("signet-verification")
}

/// The Rego source of the library template in `library/<dir>/template.yaml`.
pub fn library_rego(dir: &str) -> String {
    let path = repo_root().join("library").join(dir).join("template.yaml");
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["spec"]["targets"][0]["rego"]
        .as_str()
        .unwrap()
        .to_string()
}

fn repo_root() -> PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// Gatekeeper's view of a ProviderResponse, as `external_data` returns it to Rego.
pub fn external_data_value(provider_response: &Value) -> Value {
    let resp = &provider_response["response"];
    let mut responses = Vec::new();
    let mut errors = Vec::new();
    for item in resp["items"].as_array().cloned().unwrap_or_default() {
        let err = item["error"].as_str().unwrap_or("");
        if err.is_empty() {
            responses.push(json!([item["key"], item["value"]]));
        } else {
            errors.push(json!([item["key"], err]));
        }
    }
    json!({
        "responses": responses,
        "errors": errors,
        "status_code": 200,
        "system_error": resp["systemError"].as_str().unwrap_or(""),
    })
}

/// What one engine made of a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The queried document; `None` when it is undefined.
    pub value: Option<Value>,
    /// The keys of each `external_data` call, in the order made.
    pub calls: Vec<Vec<String>>,
}

/// An evaluation, or the engine's refusal (parse, compile or evaluation error) in its words.
pub type Outcome = Result<Evaluation, String>;

/// What to evaluate: Rego modules as (file name, source), the query (a `data.` reference), the
/// input document, and what `external_data` answers (`None`: every call is an error).
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    pub modules: &'a [(&'a str, &'a str)],
    pub query: &'a str,
    pub input: &'a Value,
    pub external_data: Option<&'a Value>,
}

fn keys_of(request: &Value) -> Vec<String> {
    request["keys"]
        .as_array()
        .map(|keys| {
            keys.iter()
                .map(|k| k.as_str().map_or_else(|| k.to_string(), str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Evaluates `q` with regorus (rego v0 mode, as Gatekeeper parses templates).
pub fn eval_regorus(q: Query<'_>) -> Outcome {
    let mut engine = regorus::Engine::new();
    engine.set_rego_v0(true);
    for (path, source) in q.modules {
        engine
            .add_policy(path.to_string(), source.to_string())
            .map_err(|e| format!("regorus: {e}"))?;
    }
    let calls: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let calls_in = calls.clone();
    let answer = q.external_data.cloned();
    engine
        .add_extension(
            "external_data".into(),
            1,
            Box::new(move |args: Vec<regorus::Value>| {
                let req: Value = serde_json::from_str(&args[0].to_json_str()?)?;
                calls_in.lock().unwrap().push(keys_of(&req));
                let Some(answer) = &answer else {
                    anyhow::bail!("external_data called but the test gave no answer");
                };
                regorus::Value::from_json_str(&answer.to_string())
            }),
        )
        .expect("extension registers");
    engine.set_input_json(&q.input.to_string()).unwrap();
    let results = engine
        .eval_query(q.query.to_string(), false)
        .map_err(|e| format!("regorus: {e}"))?;
    let value = match results.result.first().and_then(|r| r.expressions.first()) {
        Some(expr) if expr.value != regorus::Value::Undefined => {
            Some(serde_json::from_str(&expr.value.to_json_str().unwrap()).unwrap())
        }
        _ => None,
    };
    let calls = calls.lock().unwrap().clone();
    Ok(Evaluation { value, calls })
}

/// The venv Python that has real OPA (`scripts/install-test-deps.sh` puts it there).
fn opa_python() -> PathBuf {
    let bin = signet_testkit::tools_bin();
    bin.parent().unwrap_or(&bin).join("venv/bin/python")
}

/// Evaluates `q` with real OPA v1 (tests/rego/opa_eval.py). Panics, saying to run
/// scripts/install-test-deps.sh, when the venv or OPA is missing: never a silent skip.
pub fn eval_opa(q: Query<'_>) -> Outcome {
    let python = opa_python();
    let script = repo_root().join("tests/rego/opa_eval.py");
    assert!(
        python.exists(),
        "real OPA is needed as the second Rego engine, but {} does not exist: run scripts/install-test-deps.sh",
        python.display()
    );
    let modules: Vec<Value> = q
        .modules
        .iter()
        .map(|(path, source)| json!({"path": path, "source": source}))
        .collect();
    let request = json!({
        "modules": modules,
        "query": q.query,
        "input": q.input,
        "external_data": q.external_data,
    });
    let mut child = Command::new(&python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} for real OPA ({e}): run scripts/install-test-deps.sh",
                python.display()
            )
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let reply: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "{} gave no JSON ({e}; exit {:?}): {stdout}\n{}",
            script.display(),
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    match out.status.code() {
        Some(0) => {}
        Some(1) => return Err(reply["error"].as_str().unwrap_or("").to_string()),
        code => panic!(
            "{} could not evaluate (exit {code:?}): {}\n{}",
            script.display(),
            reply["error"].as_str().unwrap_or(&stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
    let calls = reply["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|call| keys_of(&json!({ "keys": call })))
        .collect();
    let value = if reply["defined"] == json!(true) {
        Some(reply["value"].clone())
    } else {
        None
    };
    Ok(Evaluation { value, calls })
}

/// `v` with every array sorted, at every depth: JSON has no sets, so each engine writes a Rego
/// set as an array in its own order, and the comparison must not depend on that order.
fn canonical(v: &Value) -> Value {
    match v {
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(canonical).collect();
            items.sort_by_cached_key(Value::to_string);
            Value::Array(items)
        }
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), canonical(v))).collect())
        }
        other => other.clone(),
    }
}

/// How regorus's and OPA's outcomes differ, if they do: the documents (arrays compared without
/// order), defined or not, and the keys asked of `external_data`, call by call and in order. Two
/// refusals agree (each engine words its errors its own way); a refusal and a result do not.
pub fn disagreement(regorus: &Outcome, opa: &Outcome) -> Option<String> {
    match (regorus, opa) {
        (Err(_), Err(_)) => None,
        (Ok(r), Ok(o)) => {
            let (rv, ov) = (
                r.value.as_ref().map(canonical),
                o.value.as_ref().map(canonical),
            );
            if rv != ov {
                Some(format!(
                    "the engines disagree on the value: regorus {}, OPA {}",
                    describe(r.value.as_ref()),
                    describe(o.value.as_ref())
                ))
            } else if r.calls != o.calls {
                Some(format!(
                    "the engines asked external_data for different keys: regorus {:?}, OPA {:?}",
                    r.calls, o.calls
                ))
            } else {
                None
            }
        }
        (r, o) => Some(format!(
            "one engine refused the policy: regorus {}, OPA {}",
            describe_outcome(r),
            describe_outcome(o)
        )),
    }
}

fn describe(v: Option<&Value>) -> String {
    v.map_or_else(|| "undefined".to_string(), Value::to_string)
}

fn describe_outcome(o: &Outcome) -> String {
    match o {
        Ok(e) => describe(e.value.as_ref()),
        Err(e) => format!("error: {e}"),
    }
}

/// Evaluates `q` with both engines; panics if either refuses or they disagree.
pub fn eval_both(q: Query<'_>) -> Evaluation {
    let regorus = eval_regorus(q);
    let opa = eval_opa(q);
    if let Some(why) = disagreement(&regorus, &opa) {
        panic!("{why}\nquery {} on input {}", q.query, q.input);
    }
    match (regorus, opa) {
        (Ok(r), Ok(_)) => r,
        (r, o) => panic!(
            "the policy does not evaluate: regorus {}; OPA {}",
            describe_outcome(&r),
            describe_outcome(&o)
        ),
    }
}

/// Violations the template reports for the admission review `review` (Gatekeeper's
/// `input.review`: `object`, `namespace`, ...), given the provider's answer, on both engines
/// (which must agree). Returns the sorted messages and the keys the template asked for.
pub fn review_violations(review: Value, provider_response: Value) -> (Vec<String>, Vec<String>) {
    let rego = template_rego();
    let input = json!({"review": review, "parameters": {"provider": "signet"}});
    let answer = external_data_value(&provider_response);
    let eval = eval_both(Query {
        modules: &[("template.rego", &rego)],
        query: VIOLATION,
        input: &input,
        external_data: Some(&answer),
    });
    (violation_messages(eval.value), eval.calls.concat())
}

/// Violations of the library template in `library/<dir>` (Rego package `package`) for a Pod in
/// `namespace` running `images`, with the constraint's `parameters` (the provider is added), given
/// the provider's answer; on both engines, which must agree. Returns the sorted messages and the
/// keys asked.
pub fn library_violations(
    dir: &str,
    package: &str,
    parameters: Value,
    review: Value,
    provider_response: &Value,
) -> (Vec<String>, Vec<String>) {
    let rego = library_rego(dir);
    let mut params = parameters;
    params["provider"] = json!("signet");
    let input = json!({"review": review, "parameters": params});
    let answer = external_data_value(provider_response);
    let query = format!("data.{package}.violation");
    let eval = eval_both(Query {
        modules: &[("template.rego", &rego)],
        query: &query,
        input: &input,
        external_data: Some(&answer),
    });
    (violation_messages(eval.value), eval.calls.concat())
}

/// The sorted `msg` of each entry of an evaluated `violation` set.
pub fn violation_messages(value: Option<Value>) -> Vec<String> {
    let mut msgs: Vec<String> = value
        .expect("the violation set is always defined")
        .as_array()
        .expect("violation is a set")
        .iter()
        .map(|v| v["msg"].as_str().unwrap_or("").to_string())
        .collect();
    msgs.sort();
    msgs
}

/// A review of a Pod in `namespace` (set in `metadata.namespace` only) whose containers run
/// `images`.
pub fn pod_review(namespace: &str, images: &[&str]) -> Value {
    let containers: Vec<Value> = images
        .iter()
        .map(|i| json!({"name": "c", "image": i}))
        .collect();
    json!({"object": {"metadata": {"namespace": namespace}, "spec": {"containers": containers}}})
}

/// Violations the template reports for a Pod with `images` in `namespace`, given the provider's
/// answer (see [`review_violations`]). Also returns the keys the template asked for.
pub fn violations(
    namespace: &str,
    images: &[&str],
    provider_response: Value,
) -> (Vec<String>, Vec<String>) {
    review_violations(pod_review(namespace, images), provider_response)
}

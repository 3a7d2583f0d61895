//! Evaluates the shipped Gatekeeper template (library/signet-verification/template.yaml) with a
//! real Rego engine (regorus, Gatekeeper's rego v0 syntax), `external_data` emulated the way
//! Gatekeeper builds it from a ProviderResponse: items with an error go to `errors`, the rest to
//! `responses`, `system_error` from the response.

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

/// The template's Rego source.
pub fn template_rego() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../library/signet-verification/template.yaml");
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["spec"]["targets"][0]["rego"]
        .as_str()
        .unwrap()
        .to_string()
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

/// Violations the template reports for a Pod with `images` in `namespace`, given the provider's
/// answer. Also returns the keys the template asked for.
pub fn violations(
    namespace: &str,
    images: &[&str],
    provider_response: Value,
) -> (Vec<String>, Vec<String>) {
    let mut engine = regorus::Engine::new();
    engine.set_rego_v0(true);
    engine
        .add_policy("template.rego".into(), template_rego())
        .expect("template parses");
    let asked: Arc<Mutex<Vec<String>>> = Arc::default();
    let asked_in = asked.clone();
    let answer = external_data_value(&provider_response);
    engine
        .add_extension(
            "external_data".into(),
            1,
            Box::new(move |args: Vec<regorus::Value>| {
                let req: Value = serde_json::from_str(&args[0].to_json_str()?)?;
                let keys = req["keys"].as_array().cloned().unwrap_or_default();
                *asked_in.lock().unwrap() = keys
                    .iter()
                    .map(|k| k.as_str().unwrap_or("").to_string())
                    .collect();
                regorus::Value::from_json_str(&answer.to_string())
            }),
        )
        .expect("extension registers");
    let containers: Vec<Value> = images
        .iter()
        .map(|i| json!({"name": "c", "image": i}))
        .collect();
    let input = json!({
        "review": {"object": {"metadata": {"namespace": namespace}, "spec": {"containers": containers}}},
        "parameters": {"provider": "signet"}
    });
    engine.set_input_json(&input.to_string()).unwrap();
    let result = engine
        .eval_rule("data.signetverification.violation".into())
        .expect("template evaluates");
    let result: Value = serde_json::from_str(&result.to_json_str().unwrap()).unwrap();
    let mut msgs: Vec<String> = result
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|v| v["msg"].as_str().unwrap_or("").to_string())
        .collect();
    msgs.sort();
    let asked = asked.lock().unwrap().clone();
    (msgs, asked)
}

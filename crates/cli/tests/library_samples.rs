//! The Gatekeeper library's files (`library/*/`) as Gatekeeper and the API server would take
//! them: every object validated strictly (ConstraintTemplates, Constraints against their
//! template's parameter schema, Providers, Assign) by `tests/helm/crds.py` against schemas written
//! from Gatekeeper's published CRDs; each directory documented; the samples pointing at the right
//! Provider and path; the mutation sample equal to what the chart renders; the multi-tenancy
//! sample's per-namespace keys kept apart on both Rego engines; and the image rules sample
//! (system images admitted by Signet's `policy.imageRules`) and the multi-arch sample
//! (`policy.multiArch`, on image indexes pushed and signed for real) installed by their Helm
//! values and judged on Signet's real answers, on both engines.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use support::helm::{chart_py, find, render};

fn library() -> PathBuf {
    signet_testkit::workspace_root().join("library")
}

/// Every YAML file of the library, sorted.
fn library_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in std::fs::read_dir(library()).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|e| e == "yaml") {
                files.push(f);
            }
        }
    }
    files.sort();
    files
}

fn objects_in(file: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(file).unwrap();
    // The library's files separate documents with `---` lines.
    text.split("\n---")
        .map(|doc| serde_yaml_ng::from_str::<Value>(doc).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

/// `chart.py validate` on these files (ConstraintTemplates among them define the Constraint
/// kinds): the errors by file.
fn validate(files: &[PathBuf]) -> Value {
    let mut args = vec!["validate".to_string()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    chart_py(&args)["errors"].clone()
}

#[test]
fn every_library_file_is_valid_for_gatekeeper_and_documented() {
    let files = library_files();
    assert!(files.len() >= 12, "{files:?}");
    assert_eq!(validate(&files), json!({}));

    let mut kinds = Vec::new();
    for dir in std::fs::read_dir(library()).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let readme = std::fs::read_to_string(dir.join("README.md"))
            .unwrap_or_else(|_| panic!("{} has a README.md", dir.display()));
        let in_dir: Vec<&PathBuf> = files.iter().filter(|f| f.parent() == Some(&dir)).collect();
        // A sample beside the template (a Constraint or, for mutation, the mutators).
        let samples: Vec<&&PathBuf> = in_dir
            .iter()
            .filter(|f| !f.ends_with("template.yaml") && !f.ends_with("provider.yaml"))
            .collect();
        assert!(!samples.is_empty(), "{} has a sample", dir.display());
        for f in &in_dir {
            let name = f.file_name().unwrap().to_str().unwrap();
            assert!(
                readme.contains(name),
                "{}/README.md names {name}",
                dir.display()
            );
            kinds.extend(
                objects_in(f)
                    .iter()
                    .map(|o| o["kind"].as_str().unwrap().to_string()),
            );
        }
    }
    for kind in [
        "ConstraintTemplate",
        "Provider",
        "Assign",
        "SignetVerification",
        "SignetSbom",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "a {kind} among {kinds:?}");
    }
}

/// The validator is not vacuous: broken variants of the library's own samples are refused, with
/// the path and the problem.
#[test]
fn broken_samples_are_refused_with_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let template = library().join("signet-verification/template.yaml");
    let mutate = |file: &str, edit: &dyn Fn(&mut Value)| {
        let mut objects = objects_in(&library().join(file));
        edit(&mut objects[0]);
        let out = dir.path().join(file.replace('/', "-"));
        std::fs::write(&out, serde_yaml_ng::to_string(&objects[0]).unwrap()).unwrap();
        let errors = validate(&[template.clone(), out.clone()]);
        errors[out.display().to_string()]
            .as_str()
            .unwrap_or_else(|| panic!("{file}: accepted: {errors}"))
            .to_string()
    };
    for (file, edit, words) in [
        (
            "signet-verification/provider.yaml",
            (&|o: &mut Value| {
                o["spec"]["timout"] = json!(3);
            }) as &dyn Fn(&mut Value),
            "spec.timout: additional property not allowed",
        ),
        (
            "signet-mutation/assign.yaml",
            &|o: &mut Value| {
                o["spec"]["parameters"]["assign"]["externalData"]["failurePolicy"] =
                    json!("Sometimes");
            },
            "failurePolicy",
        ),
        (
            "signet-verification/constraint.yaml",
            &|o: &mut Value| {
                o["spec"]["parameters"]["exemptImage"] = json!(["x"]);
            },
            "spec.parameters.exemptImage: additional property not allowed",
        ),
        (
            "signet-verification/constraint.yaml",
            &|o: &mut Value| {
                o["spec"]["enforcementAction"] = json!("block");
            },
            "enforcementAction",
        ),
        (
            "signet-verification/constraint-warn-opt-in.yaml",
            &|o: &mut Value| {
                o["spec"]["match"]["namespaceSelector"]["matchLabel"] = json!({"a": "b"});
            },
            "matchLabel",
        ),
        (
            "signet-verification/constraint.yaml",
            &|o: &mut Value| {
                o["kind"] = json!("SignetVerifications");
            },
            "no ConstraintTemplate defines kind SignetVerifications",
        ),
    ] {
        let e = mutate(file, edit);
        assert!(e.contains(words), "{file}: {words:?} not in {e}");
    }
}

#[test]
fn samples_point_at_the_right_provider_and_path() {
    let providers: Vec<Value> = library_files()
        .iter()
        .flat_map(|f| objects_in(f))
        .filter(|o| o["kind"] == "Provider")
        .collect();
    let url_of = |name: &str| {
        providers
            .iter()
            .find(|p| p["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("a Provider {name} in the library"))["spec"]["url"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(url_of("signet").ends_with("/v1/verify"));
    assert!(url_of("signet-mutation").ends_with("/v1/mutate"));
    for f in library_files() {
        for o in objects_in(&f) {
            if o["apiVersion"] == "constraints.gatekeeper.sh/v1beta1" {
                assert_eq!(
                    o["spec"]["parameters"]["provider"],
                    "signet",
                    "{}",
                    f.display()
                );
            }
            if o["kind"] == "Assign" {
                assert_eq!(
                    o["spec"]["parameters"]["assign"]["externalData"]["provider"],
                    "signet-mutation",
                    "{}",
                    f.display()
                );
            }
        }
    }
}

/// The chart's `mutation.enabled` objects are the library's sample (release `signet`), so the
/// documented files and the installed ones cannot drift apart.
#[test]
fn the_mutation_sample_is_what_the_chart_installs() {
    let ca = signet_testkit::TestCa::new("gatekeeper-ca (test)").cert_pem();
    let values = json!({"cosignKeys": ["k"], "cosign": {"tLogVerify": false},
                        "gatekeeper": {"clientCA": ca}, "mutation": {"enabled": true}});
    let rendered = render(&values).unwrap();
    let sample = objects_in(&library().join("signet-mutation/assign.yaml"));
    assert_eq!(sample.len(), 3);
    for s in &sample {
        let name = s["metadata"]["name"].as_str().unwrap();
        let r = find(&rendered, "Assign", name);
        assert_eq!(r["apiVersion"], s["apiVersion"], "{name}");
        assert_eq!(r["spec"], s["spec"], "{name}");
    }
    let provider = find(&rendered, "Provider", "signet-mutation");
    let sample_provider = &objects_in(&library().join("signet-mutation/provider.yaml"))[0];
    assert_eq!(
        provider["spec"]["timeout"],
        sample_provider["spec"]["timeout"]
    );
    assert!(provider["spec"]["url"]
        .as_str()
        .unwrap()
        .ends_with("/v1/mutate"));
}

/// The multi-tenancy sample's tenants, on both engines: a Pod asks with its own namespace's key,
/// so an answer about team-a's use of an image never decides team-b's Pod, and team-b's sandbox
/// exemption applies to team-b's Constraint only.
#[test]
fn tenants_are_asked_and_judged_apart() {
    let constraints =
        objects_in(&library().join("signet-verification/constraint-multi-tenancy.yaml"));
    let params_of = |ns: &str| {
        constraints
            .iter()
            .find(|c| c["spec"]["match"]["namespaces"] == json!([ns]))
            .unwrap_or_else(|| panic!("a Constraint for {ns}"))["spec"]["parameters"]
            .clone()
    };
    let image = "registry.example.com/shared/app:v1";
    let sandbox = "registry.example.com/team-b/sandbox/tool:dev";
    // Signet's answer: team-a's key verified, team-b's failed (say team-b's trust differs).
    let answer = json!({"response": {"items": [
        {"key": format!("[team-a]{image}"), "value": {"isSuccess": true, "verifierReports": []}},
        {"key": format!("[team-b]{image}"),
         "value": {"isSuccess": false, "errorReason": "UNTRUSTED_SIGNER", "message": "not team-b's signer"}},
    ], "systemError": ""}});
    // Gatekeeper passes the template the answers to the keys it asked: this tenant's.
    let judge = |ns: &str, images: &[&str]| {
        let mut asked_answer = answer.clone();
        asked_answer["response"]["items"]
            .as_array_mut()
            .unwrap()
            .retain(|i| i["key"].as_str().unwrap().starts_with(&format!("[{ns}]")));
        support::rego::library_violations(
            "signet-verification",
            "signetverification",
            params_of(ns),
            support::rego::pod_review(ns, images),
            &asked_answer,
        )
    };
    let (a, asked) = judge("team-a", &[image]);
    assert_eq!(asked, vec![format!("[team-a]{image}")]);
    assert!(a.is_empty(), "{a:?}");
    let (b, asked) = judge("team-b", &[image, sandbox]);
    assert_eq!(
        asked,
        vec![format!("[team-b]{image}")],
        "the sandbox image is exempt"
    );
    assert_eq!(b.len(), 1, "{b:?}");
    assert!(b[0].contains("UNTRUSTED_SIGNER"), "{b:?}");
    // team-a has no such exemption: its sandbox-like image is asked about (and, unanswered, denied).
    let (a, asked) = judge("team-a", &[sandbox]);
    assert_eq!(asked, vec![format!("[team-a]{sandbox}")]);
    assert!(
        a.iter().any(|m| m.contains("missing from Signet's answer")),
        "{a:?}"
    );
}

/// The image rules sample, end to end: its Helm values (`samples/values-image-rules.yaml`) install
/// exactly the sample Constraint (`constraint-image-rules.yaml`) and a configuration Signet
/// accepts without a warning; Signet, run on that configuration, answers a Pod of Kubernetes'
/// system images and a retired one (no registry is needed: the rules answer by name), and the
/// template with the sample's parameters, on both engines, admits the system images and denies
/// the retired one with the rule's name and message.
#[test]
fn the_image_rules_sample_admits_system_images_and_denies_a_retired_one_by_rule() {
    let dir = library().join("signet-verification");
    let mut values: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(dir.join("samples/values-image-rules.yaml")).unwrap(),
    )
    .unwrap();
    // What every install adds: trust (a cosign key) and Gatekeeper's CA.
    let key = std::fs::read_to_string(
        signet_testkit::vectors_dir().join("cosign/03-legacy-sig-keyed/a-no-tlog/cosign.pub"),
    )
    .unwrap();
    values["cosignKeys"] = json!([key]);
    values["cosign"] = json!({"tLogVerify": false});
    values["gatekeeper"] =
        json!({"clientCA": signet_testkit::TestCa::new("gatekeeper-ca (test)").cert_pem()});
    let rendered = render(&values).unwrap();
    let sample = &objects_in(&dir.join("constraint-image-rules.yaml"))[0];
    let installed = find(&rendered, "SignetVerification", "signet-verification");
    assert_eq!(
        installed["spec"], sample["spec"],
        "the values install the sample Constraint"
    );

    // The rendered configuration, on this machine: its files under a temporary root (the key
    // where the Deployment mounts it), served over plain HTTP.
    let root = tempfile::tempdir().unwrap();
    let text = find(&rendered, "ConfigMap", "signet")["data"]["config.yaml"]
        .as_str()
        .unwrap()
        .replace("/etc/signet/", &format!("{}/", root.path().display()));
    let mut config: Value = serde_yaml_ng::from_str(&text).unwrap();
    assert_eq!(
        config["policy"]["imageRules"], values["policy"]["imageRules"],
        "the rules as given"
    );
    config["server"] = json!({"listen": "127.0.0.1:6001", "plainHTTP": true});
    std::fs::create_dir_all(root.path().join("trust/cosign")).unwrap();
    std::fs::write(root.path().join("trust/cosign/key-0.pub"), &key).unwrap();
    let file = root.path().join("config.yaml");
    std::fs::write(&file, serde_yaml_ng::to_string(&config).unwrap()).unwrap();
    let signet = env!("CARGO_BIN_EXE_signet");
    let check = Command::new(signet)
        .args(["config", "check"])
        .arg(&file)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stdout).to_string();
    assert!(
        check.status.success() && !said.contains("warning:"),
        "{said}{}",
        String::from_utf8_lossy(&check.stderr)
    );

    let images = [
        "registry.k8s.io/pause:3.10",
        "registry.k8s.io/coredns/coredns:v1.11.3",
        "busybox:1.36",
    ];
    let keys: Vec<String> = images.iter().map(|i| format!("[prod]{i}")).collect();
    let out = Command::new(signet)
        .args(["--log", "warn", "verify", "--config"])
        .arg(&file)
        .args(&keys)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "one image is denied");
    let items: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .zip(&keys)
        .map(|(line, key)| json!({"key": key, "value": serde_json::from_str::<Value>(line).unwrap()}))
        .collect();
    assert_eq!(items.len(), images.len());
    for item in &items[..2] {
        assert_eq!(
            item["value"]["verifierReports"][0]["verifierName"], "kubernetes",
            "{item}"
        );
    }
    let answer = json!({"response": {"items": items, "systemError": ""}});
    let (violations, asked) = support::rego::library_violations(
        "signet-verification",
        "signetverification",
        sample["spec"]["parameters"].clone(),
        support::rego::pod_review("prod", &images),
        &answer,
    );
    assert_eq!(asked, keys, "every image is asked about: no exemption");
    assert_eq!(
        violations,
        vec!["image [prod]busybox:1.36 failed verification (POLICY_NOT_SATISFIED): denied by image rule \"retired-busybox\" (docker.io/library/busybox): use registry.example/tools/busybox, which is scanned and signed".to_string()]
    );
}

/// Pushes an image index of `children` (platform, descriptor) as `repo:v1` with the real oras
/// CLI, a buildx-style attestation manifest for the platform `unknown/unknown`; returns the
/// index pinned by digest.
async fn push_index(
    reg: &signet_testkit::Registry,
    dir: &Path,
    repo: &str,
    children: &[(&str, &signet_types::Descriptor)],
) -> String {
    let manifests: Vec<Value> = children
        .iter()
        .map(|(platform, d)| {
            let (os, arch) = platform.split_once('/').unwrap();
            let mut entry = json!({"mediaType": d.media_type, "digest": d.digest.to_string(),
                                   "size": d.size, "platform": {"os": os, "architecture": arch}});
            if *platform == "unknown/unknown" {
                entry["annotations"] = json!({"vnd.docker.reference.type": "attestation-manifest"});
            }
            entry
        })
        .collect();
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                       "manifests": manifests});
    let bytes = serde_json::to_vec(&index).unwrap();
    let file = dir.join(format!("{}.json", repo.replace('/', "-")));
    std::fs::write(&file, &bytes).unwrap();
    let mut cmd = reg.oras();
    cmd.args(["manifest", "push"])
        .args(reg.oras_flags())
        .args(["--media-type", "application/vnd.oci.image.index.v1+json"])
        .arg(reg.reference(&format!("{repo}:v1")))
        .arg(&file);
    support::run(cmd).await;
    reg.reference(&format!(
        "{repo}@{}",
        signet_types::Digest::sha256_of(&bytes)
    ))
}

/// The multi-arch sample, end to end: its Helm values (`samples/values-multi-arch.yaml`, the
/// sample's `ghcr.io/acme` standing for a local registry's `acme`) install the library's default
/// Constraint (`constraint.yaml`) and a configuration Signet accepts without a warning; image
/// indexes pushed with oras and signed with cosign (per platform, on the index, or only partly)
/// are answered by Signet on that configuration, and the template with the Constraint's
/// parameters, on both engines, admits the indexes the rules are met for and denies the one whose
/// arm64 child is unsigned, although its index is signed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_multi_arch_sample_admits_indexes_by_rule_and_denies_an_unsigned_platform() {
    let reg = signet_testkit::Registry::start_ferro()
        .await
        .expect("ferro starts");
    let host = reg.host();
    let dir = library().join("signet-verification");
    let text = std::fs::read_to_string(dir.join("samples/values-multi-arch.yaml")).unwrap();
    assert!(text.contains("\"ghcr.io/acme/**\""), "{text}");
    let mut values: Value =
        serde_yaml_ng::from_str(&text.replace("ghcr.io/acme/", &format!("{host}/acme/"))).unwrap();
    let work = tempfile::tempdir().unwrap();
    let (key, public) = signet_testkit::cosign_generate_key_pair(&work.path().join("k"));
    let public_pem = std::fs::read_to_string(&public).unwrap();
    // What every install adds: trust, Gatekeeper's CA, and here the local registry's plain HTTP.
    values["cosignKeys"] = json!([public_pem]);
    values["cosign"] = json!({"tLogVerify": false});
    values["gatekeeper"] =
        json!({"clientCA": signet_testkit::TestCa::new("gatekeeper-ca (test)").cert_pem()});
    values["registryHosts"] = json!({host.clone(): {"plainHTTP": true}});
    let rendered = render(&values).unwrap();
    let sample = &objects_in(&dir.join("constraint.yaml"))[0];
    let installed = find(&rendered, "SignetVerification", "signet-verification");
    assert_eq!(
        installed["spec"], sample["spec"],
        "the values install the sample Constraint"
    );

    // The rendered configuration on this machine, as for the image rules sample.
    let root = tempfile::tempdir().unwrap();
    let text = find(&rendered, "ConfigMap", "signet")["data"]["config.yaml"]
        .as_str()
        .unwrap()
        .replace("/etc/signet/", &format!("{}/", root.path().display()));
    let mut config: Value = serde_yaml_ng::from_str(&text).unwrap();
    assert_eq!(
        config["policy"]["multiArch"],
        json!([
            {"name": "acme-per-platform", "match": format!("{host}/acme/**"),
             "require": "children", "platforms": ["linux/amd64", "linux/arm64"]},
            {"name": "signed-either-way", "match": "**", "require": "index-or-children"},
        ]),
        "the rules as given"
    );
    config["server"] = json!({"listen": "127.0.0.1:6001", "plainHTTP": true});
    std::fs::create_dir_all(root.path().join("trust/cosign")).unwrap();
    std::fs::write(root.path().join("trust/cosign/key-0.pub"), &public_pem).unwrap();
    let file = root.path().join("config.yaml");
    std::fs::write(&file, serde_yaml_ng::to_string(&config).unwrap()).unwrap();
    let signet = env!("CARGO_BIN_EXE_signet");
    let check = Command::new(signet)
        .args(["config", "check"])
        .arg(&file)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stdout).to_string();
    assert!(
        check.status.success() && !said.contains("warning:"),
        "{said}{}",
        String::from_utf8_lossy(&check.stderr)
    );

    // Indexes of two platforms and an attestation manifest: (repository, children signed
    // [amd64, arm64], index signed).
    for (repo, children, index_signed) in [
        ("acme/app", [true, true], false),
        ("acme/partly", [true, false], true),
        ("tools/cli", [false, false], true),
        ("tools/agent", [true, true], false),
    ] {
        let seed = repo.replace('/', "-");
        let amd = reg
            .push_sample_image(repo, "amd64", &format!("{seed}-amd64"))
            .await
            .unwrap();
        let arm = reg
            .push_sample_image(repo, "arm64", &format!("{seed}-arm64"))
            .await
            .unwrap();
        let att = reg
            .push_sample_image(repo, "att", &format!("{seed}-att"))
            .await
            .unwrap();
        for (d, signed) in [(&amd, children[0]), (&arm, children[1])] {
            if signed {
                support::cosign_sign(&reg, &key, &reg.reference(&format!("{repo}@{}", d.digest)))
                    .await;
            }
        }
        let index = push_index(
            &reg,
            work.path(),
            repo,
            &[
                ("linux/amd64", &amd),
                ("linux/arm64", &arm),
                ("unknown/unknown", &att),
            ],
        )
        .await;
        if index_signed {
            support::cosign_sign(&reg, &key, &index).await;
        }
    }
    let images: Vec<String> = ["acme/app", "acme/partly", "tools/cli", "tools/agent"]
        .iter()
        .map(|r| reg.reference(&format!("{r}:v1")))
        .collect();
    let keys: Vec<String> = images.iter().map(|i| format!("[prod]{i}")).collect();
    let out = Command::new(signet)
        .args(["--log", "warn", "verify", "--config"])
        .arg(&file)
        .args(&keys)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "one image is denied: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let items: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .zip(&keys)
        .map(|(line, key)| json!({"key": key, "value": serde_json::from_str::<Value>(line).unwrap()}))
        .collect();
    assert_eq!(items.len(), keys.len());
    // Per platform: one report per required child, named by its platform (the attestation
    // manifest is not an image and never required).
    let platforms = |item: &Value| -> Vec<String> {
        item["value"]["verifierReports"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["verifierType"] == "multiarch")
            .map(|r| r["verifierName"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        platforms(&items[0]),
        ["linux/amd64", "linux/arm64"],
        "{}",
        items[0]
    );
    assert_eq!(items[0]["value"]["isSuccess"], true, "{}", items[0]);
    // The index's own signature does not do for acme: arm64 is unsigned.
    assert_eq!(items[1]["value"]["isSuccess"], false, "{}", items[1]);
    // Everything else: the index's signature (tools/cli), or every child's (tools/agent).
    assert_eq!(items[2]["value"]["isSuccess"], true, "{}", items[2]);
    assert!(platforms(&items[2]).is_empty(), "{}", items[2]);
    assert_eq!(items[3]["value"]["isSuccess"], true, "{}", items[3]);
    assert_eq!(
        platforms(&items[3]),
        ["linux/amd64", "linux/arm64"],
        "{}",
        items[3]
    );

    let answer = json!({"response": {"items": items, "systemError": ""}});
    let pod: Vec<&str> = images.iter().map(String::as_str).collect();
    let (violations, asked) = support::rego::library_violations(
        "signet-verification",
        "signetverification",
        sample["spec"]["parameters"].clone(),
        support::rego::pod_review("prod", &pod),
        &answer,
    );
    assert_eq!(asked, keys, "every image is asked about");
    assert_eq!(violations.len(), 1, "{violations:?}");
    let denial = &violations[0];
    assert!(
        denial.starts_with(&format!(
            "image {} failed verification (NO_SIGNATURE): child linux/arm64 of the index failed (multiArch rule \"acme-per-platform\" requires it)",
            keys[1]
        )),
        "{denial}"
    );
}

//! The SLSA provenance evaluator on real generators' documents (tests/data/provenance, sources
//! in its README.md) and on hostile or incomplete ones.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use signet_attest::bounded::Limits;
use signet_attest::provenance::{evaluate, ProvenancePolicy, ProvenancePolicyParams};
use signet_attest::statement::{Format, Statement};
use signet_attest::Evaluation;
use signet_types::ReasonCode;

const GENERIC_V02: &str = "slsa-github-generator-generic-v0.2.json";
const CONTAINER_V02: &str = "slsa-github-generator-container-v0.2.json";
const TEKTON_V02: &str = "tekton-chains-v0.2.json";
const NPM_V1: &str = "npm-cli-github-actions-v1.json";
const DELEGATOR_V1: &str = "slsa-github-generator-delegator-v1.json";
const TEKTON_V1: &str = "tekton-chains-v1.json";

const EXAMPLE_COMMIT: &str = "4d329c75e7ec1725f7c9ce917a8799d408d06be3";
const SIGSTORE_JS_COMMIT: &str = "46e7056ff9912ebfee5298d94024895a9fea76c0";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/data/provenance/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The fixture's statement, parsed by the crate's statement reader: its format and predicate.
fn predicate_of(name: &str) -> (Format, Vec<u8>) {
    let s = Statement::parse(&fixture(name), &Limits::default()).unwrap();
    let format = Format::from_predicate_type(&s.predicate_type).unwrap();
    (format, s.predicate.get().as_bytes().to_vec())
}

fn policy(params: Value) -> ProvenancePolicy {
    let p: ProvenancePolicyParams = serde_json::from_value(params).unwrap();
    ProvenancePolicy::from_params(&p).unwrap()
}

fn problems(params: Value) -> Vec<(String, String)> {
    let p: ProvenancePolicyParams = serde_json::from_value(params).unwrap();
    ProvenancePolicy::from_params(&p).unwrap_err()
}

fn eval_fixture(name: &str, params: Value) -> Evaluation {
    let (format, predicate) = predicate_of(name);
    evaluate(format, &predicate, &policy(params), &Limits::default())
}

fn eval_json(format: Format, predicate: Value, params: Value) -> Evaluation {
    evaluate(
        format,
        predicate.to_string().as_bytes(),
        &policy(params),
        &Limits::default(),
    )
}

#[track_caller]
fn assert_pass(e: &Evaluation) {
    assert!(e.passed, "expected a pass: {e:?}");
    assert_eq!(e.reason, None);
}

#[track_caller]
fn assert_mismatch(e: &Evaluation, needles: &[&str]) {
    assert!(!e.passed, "expected a failure: {e:?}");
    assert_eq!(e.reason, Some(ReasonCode::ProvenanceMismatch), "{e:?}");
    for n in needles {
        assert!(e.message.contains(n), "{:?} lacks {n:?}", e.message);
    }
}

#[track_caller]
fn assert_invalid(e: &Evaluation, needles: &[&str]) {
    assert!(!e.passed, "expected a failure: {e:?}");
    assert_eq!(e.reason, Some(ReasonCode::InvalidAttestation), "{e:?}");
    for n in needles {
        assert!(e.message.contains(n), "{:?} lacks {n:?}", e.message);
    }
}

// ---- facts of real documents ----

#[test]
fn generic_generator_v02_facts_come_from_the_config_source() {
    let e = eval_fixture(GENERIC_V02, json!({}));
    assert_pass(&e);
    assert_eq!(
        e.facts,
        json!({
            "format": "slsa-v0.2",
            "builderId": "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@refs/tags/v2.1.0",
            "buildType": "https://github.com/slsa-framework/slsa-github-generator/generic@v1",
            "sourceRepository": "https://github.com/slsa-framework/example-package",
            "sourceRef": "refs/tags/v14",
            "sourceDigest": {"sha1": EXAMPLE_COMMIT},
            "invocationId": "13530999509-1"
        })
    );
    assert!(e.message.contains("no condition"), "{}", e.message);
}

#[test]
fn container_generator_v02_facts_come_from_the_config_source() {
    let e = eval_fixture(CONTAINER_V02, json!({}));
    assert_pass(&e);
    assert_eq!(
        e.facts,
        json!({
            "format": "slsa-v0.2",
            "builderId": "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v2.1.0",
            "buildType": "https://github.com/slsa-framework/slsa-github-generator/container@v1",
            "sourceRepository": "https://github.com/slsa-framework/example-package",
            "sourceRef": "refs/heads/main",
            "sourceDigest": {"sha1": EXAMPLE_COMMIT},
            "invocationId": "13531731005-1"
        })
    );
}

#[test]
fn tekton_chains_v02_with_an_empty_config_source_and_an_image_first_has_no_source() {
    let e = eval_fixture(TEKTON_V02, json!({}));
    assert_pass(&e);
    // The first material is the base image (oci://...), not a git source: no source facts,
    // rather than the guess of a later git material.
    assert_eq!(
        e.facts,
        json!({
            "format": "slsa-v0.2",
            "builderId": "https://tekton.dev/chains/v2",
            "buildType": "tekton.dev/v1beta1/PipelineRun",
            "startedOn": "2024-01-08T19:16:10Z",
            "finishedOn": "2024-01-08T19:16:23Z"
        })
    );
}

#[test]
fn github_actions_workflow_v1_facts_come_from_the_workflow_and_its_dependency() {
    let e = eval_fixture(NPM_V1, json!({}));
    assert_pass(&e);
    assert_eq!(
        e.facts,
        json!({
            "format": "slsa-v1",
            "builderId": "https://github.com/actions/runner/github-hosted",
            "buildType": "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
            "sourceRepository": "https://github.com/sigstore/sigstore-js",
            "sourceRef": "refs/heads/main",
            "sourceDigest": {"gitCommit": SIGSTORE_JS_COMMIT},
            "invocationId": "https://github.com/sigstore/sigstore-js/actions/runs/9116405766/attempts/1"
        })
    );
}

#[test]
fn delegator_builder_v1_facts_come_from_the_first_git_dependency() {
    let e = eval_fixture(DELEGATOR_V1, json!({}));
    assert_pass(&e);
    assert_eq!(
        e.facts,
        json!({
            "format": "slsa-v1",
            "builderId": "https://github.com/slsa-framework/example-trw/.github/workflows/builder_high-perms_slsa3.yml@refs/tags/v2.1.0",
            "buildType": "https://github.com/slsa-framework/slsa-github-generator/delegator-generic@v0",
            "sourceRepository": "https://github.com/slsa-framework/example-package",
            "sourceRef": "refs/tags/v14",
            "sourceDigest": {"gitCommit": EXAMPLE_COMMIT},
            "invocationId": "https://github.com/slsa-framework/example-package/actions/runs/13530999509/attempts/1"
        })
    );
}

#[test]
fn tekton_chains_v1_source_is_the_input_result_not_the_task_repository() {
    let e = eval_fixture(TEKTON_V1, json!({}));
    assert_pass(&e);
    assert_eq!(
        e.facts,
        json!({
            "format": "slsa-v1",
            "builderId": "https://tekton.dev/chains/v2",
            "buildType": "https://tekton.dev/chains/v2/slsa",
            "sourceRepository": "gitspam.spam/spam/spam.git",
            "sourceDigest": {"sha1": "f41719bc200dcd0f0f3c8bcb66d23ff56b3875de"},
            "invocationId": "166cc447-b1c4-4615-88a8-7e20992e3763",
            "startedOn": "2024-01-08T19:17:09Z",
            "finishedOn": "2024-01-08T19:17:23Z"
        })
    );
}

// ---- conditions ----

#[test]
fn builder_id_exact_and_anchored_regexp() {
    let id = "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@refs/tags/v2.1.0";
    assert_pass(&eval_fixture(GENERIC_V02, json!({"builderId": id})));
    assert_pass(&eval_fixture(
        GENERIC_V02,
        json!({"builderIdRegExp": r"https://github\.com/slsa-framework/slsa-github-generator/\.github/workflows/generator_(generic|container)_slsa3\.yml@refs/tags/v2\.\d+\.\d+"}),
    ));
    let e = eval_fixture(
        GENERIC_V02,
        json!({"builderId": "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@refs/tags/v1.0.0"}),
    );
    assert_mismatch(&e, &["builderId", id, "does not match", "refs/tags/v1.0.0"]);
    // A pattern that matches only part of the id does not pass: regexps are anchored.
    let e = eval_fixture(
        GENERIC_V02,
        json!({"builderIdRegExp": "https://github.com/slsa-framework/slsa-github-generator/"}),
    );
    assert_mismatch(&e, &["builderId", "does not match regexp"]);
    // Facts stay in a failure, for the template to read.
    assert_eq!(e.facts["builderId"], json!(id));
}

#[test]
fn build_type_exact_and_anchored_regexp() {
    assert_pass(&eval_fixture(
        NPM_V1,
        json!({"buildType": "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1"}),
    ));
    assert_pass(&eval_fixture(
        NPM_V1,
        json!({"buildTypeRegExp": r"https://(actions\.github\.io/buildtypes|slsa-framework\.github\.io/github-actions-buildtypes)/workflow/v1"}),
    ));
    let e = eval_fixture(
        NPM_V1,
        json!({"buildType": "https://actions.github.io/buildtypes/workflow/v1"}),
    );
    assert_mismatch(
        &e,
        &[
            "buildType \"https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1\"",
            "does not match \"https://actions.github.io/buildtypes/workflow/v1\"",
        ],
    );
    let e = eval_fixture(NPM_V1, json!({"buildTypeRegExp": "workflow/v1"}));
    assert_mismatch(&e, &["buildType", "regexp \"workflow/v1\""]);
}

#[test]
fn source_repository_exact_and_anchored_regexp() {
    for fixture in [GENERIC_V02, CONTAINER_V02, DELEGATOR_V1] {
        assert_pass(&eval_fixture(
            fixture,
            json!({"sourceRepository": "https://github.com/slsa-framework/example-package"}),
        ));
        assert_pass(&eval_fixture(
            fixture,
            json!({"sourceRepositoryRegExp": "https://github.com/slsa-framework/.*"}),
        ));
    }
    // The git+ form and the @ref are not part of the repository.
    let e = eval_fixture(
        GENERIC_V02,
        json!({"sourceRepository": "git+https://github.com/slsa-framework/example-package@refs/tags/v14"}),
    );
    assert_mismatch(
        &e,
        &["sourceRepository \"https://github.com/slsa-framework/example-package\" does not match"],
    );
    // A repository whose name only starts like the wanted one does not pass.
    let e = eval_fixture(
        NPM_V1,
        json!({"sourceRepositoryRegExp": "https://github.com/sigstore/sigstore"}),
    );
    assert_mismatch(
        &e,
        &["sourceRepository \"https://github.com/sigstore/sigstore-js\""],
    );
    let e = eval_fixture(
        NPM_V1,
        json!({"sourceRepository": "https://github.com/evil/sigstore-js"}),
    );
    assert_mismatch(
        &e,
        &["does not match \"https://github.com/evil/sigstore-js\""],
    );
}

#[test]
fn source_ref_exact_and_anchored_regexp() {
    assert_pass(&eval_fixture(
        GENERIC_V02,
        json!({"sourceRef": "refs/tags/v14"}),
    ));
    assert_pass(&eval_fixture(
        GENERIC_V02,
        json!({"sourceRefRegExp": r"refs/tags/v\d+"}),
    ));
    assert_pass(&eval_fixture(
        CONTAINER_V02,
        json!({"sourceRef": "refs/heads/main"}),
    ));
    let e = eval_fixture(CONTAINER_V02, json!({"sourceRefRegExp": r"refs/tags/v\d+"}));
    assert_mismatch(&e, &["sourceRef \"refs/heads/main\" does not match regexp"]);
    // "refs/tags/v1" is a prefix of "refs/tags/v14": anchored, it does not pass.
    let e = eval_fixture(GENERIC_V02, json!({"sourceRefRegExp": "refs/tags/v1"}));
    assert_mismatch(&e, &["sourceRef \"refs/tags/v14\""]);
    assert_pass(&eval_fixture(
        NPM_V1,
        json!({"sourceRef": "refs/heads/main"}),
    ));
}

#[test]
fn source_digest_every_entry_must_match() {
    assert_pass(&eval_fixture(
        NPM_V1,
        json!({"sourceDigest": {"gitCommit": SIGSTORE_JS_COMMIT}}),
    ));
    // Hex compares case-insensitively.
    assert_pass(&eval_fixture(
        NPM_V1,
        json!({"sourceDigest": {"gitCommit": SIGSTORE_JS_COMMIT.to_uppercase()}}),
    ));
    let other = "0".repeat(40);
    let e = eval_fixture(NPM_V1, json!({"sourceDigest": {"gitCommit": other}}));
    assert_mismatch(
        &e,
        &[
            "sourceDigest.gitCommit",
            SIGSTORE_JS_COMMIT,
            "does not match",
            &other,
        ],
    );
    // Two entries: the second is absent from the document, so the condition fails.
    let e = eval_fixture(
        NPM_V1,
        json!({"sourceDigest": {"gitCommit": SIGSTORE_JS_COMMIT, "sha256": "ab".repeat(32)}}),
    );
    assert_mismatch(&e, &["has no source digest sha256"]);
    assert!(!e.message.contains("gitCommit"), "{}", e.message);
}

#[test]
fn git_commit_and_sha1_conditions_read_either_name() {
    // v0.2 documents name the commit sha1; one gitCommit policy serves both versions.
    assert_pass(&eval_fixture(
        GENERIC_V02,
        json!({"sourceDigest": {"gitCommit": EXAMPLE_COMMIT}}),
    ));
    assert_pass(&eval_fixture(
        DELEGATOR_V1,
        json!({"sourceDigest": {"sha1": EXAMPLE_COMMIT}}),
    ));
    let e = eval_fixture(
        GENERIC_V02,
        json!({"sourceDigest": {"gitCommit": SIGSTORE_JS_COMMIT}}),
    );
    assert_mismatch(&e, &["sourceDigest.gitCommit \"4d329c75"]);
}

#[test]
fn every_condition_together_and_every_violation_reported() {
    let all = json!({
        "builderIdRegExp": r"https://github\.com/slsa-framework/slsa-github-generator/\.github/workflows/generator_container_slsa3\.yml@refs/tags/v.*",
        "buildType": "https://github.com/slsa-framework/slsa-github-generator/container@v1",
        "sourceRepository": "https://github.com/slsa-framework/example-package",
        "sourceRef": "refs/heads/main",
        "sourceDigest": {"sha1": EXAMPLE_COMMIT}
    });
    let e = eval_fixture(CONTAINER_V02, all.clone());
    assert_pass(&e);
    assert!(e.message.contains("satisfies the policy"), "{}", e.message);
    // The same policy on the generic workflow's document: builder, build type and ref differ.
    let e = eval_fixture(GENERIC_V02, all);
    assert_mismatch(
        &e,
        &["builderId", "buildType", "sourceRef \"refs/tags/v14\""],
    );
    assert!(!e.message.contains("sourceRepository"), "{}", e.message);
    assert!(!e.message.contains("sourceDigest"), "{}", e.message);
}

// ---- absent fields fail ----

#[test]
fn a_condition_on_a_source_the_document_lacks_fails() {
    let e = eval_fixture(TEKTON_V02, json!({"sourceRepositoryRegExp": ".*"}));
    assert_mismatch(
        &e,
        &["has no source repository", "sourceRepository regexp \".*\""],
    );
    let e = eval_fixture(TEKTON_V02, json!({"sourceRef": "refs/heads/main"}));
    assert_mismatch(&e, &["has no source ref"]);
    let e = eval_fixture(
        TEKTON_V02,
        json!({"sourceDigest": {"sha1": "4fceb2416020011e794105f113a3913ef659c8ee"}}),
    );
    assert_mismatch(&e, &["has no source digest sha1"]);
    // Tekton's v1 source has no ref either.
    let e = eval_fixture(TEKTON_V1, json!({"sourceRefRegExp": ".*"}));
    assert_mismatch(&e, &["has no source ref"]);
}

#[test]
fn a_condition_on_a_missing_build_type_fails() {
    let predicate = json!({"builder": {"id": "https://builder.example/b"}});
    let e = eval_json(
        Format::SlsaV02,
        predicate.clone(),
        json!({"buildTypeRegExp": ".*"}),
    );
    assert_mismatch(&e, &["has no build type", "buildType regexp \".*\""]);
    // Empty strings are absent, not a value "" a regexp like ".*" accepts.
    let predicate = json!({"builder": {"id": "b"}, "buildType": "", "invocation": {"configSource": {"uri": ""}}});
    let e = eval_json(
        Format::SlsaV02,
        predicate,
        json!({"buildTypeRegExp": ".*", "sourceRepositoryRegExp": ".*"}),
    );
    assert_mismatch(&e, &["has no build type", "has no source repository"]);
    let v1 = json!({"runDetails": {"builder": {"id": "b"}}});
    let e = eval_json(Format::SlsaV1, v1, json!({"buildType": "x"}));
    assert_mismatch(&e, &["has no build type"]);
}

#[test]
fn v1_workflow_without_a_matching_dependency_has_no_digest() {
    let predicate = json!({
        "buildDefinition": {
            "buildType": "https://actions.github.io/buildtypes/workflow/v1",
            "externalParameters": {"workflow": {
                "repository": "https://github.com/org/app", "ref": "refs/tags/v2", "path": ".github/workflows/release.yml"
            }},
            "resolvedDependencies": [
                {"uri": "git+https://github.com/org/other@refs/tags/v2", "digest": {"gitCommit": "1".repeat(40)}},
                {"uri": "git+https://github.com/org/app@refs/tags/v1", "digest": {"gitCommit": "2".repeat(40)}}
            ]
        },
        "runDetails": {"builder": {"id": "https://github.com/actions/runner/github-hosted"}}
    });
    let e = eval_json(
        Format::SlsaV1,
        predicate.clone(),
        json!({"sourceDigest": {"gitCommit": "2".repeat(40)}}),
    );
    assert_mismatch(&e, &["has no source digest gitCommit"]);
    assert_eq!(
        e.facts["sourceRepository"],
        json!("https://github.com/org/app")
    );
    assert_eq!(e.facts["sourceRef"], json!("refs/tags/v2"));
    assert!(e.facts.get("sourceDigest").is_none(), "{}", e.facts);
}

#[test]
fn gitlab_runner_v1_source_parameter_names_the_repository() {
    // The shape of the GitLab runner's build type (externalParameters.source), constructed.
    let predicate = json!({
        "buildDefinition": {
            "buildType": "https://gitlab.com/gitlab-org/gitlab-runner/-/blob/v17.0.0/PROVENANCE.md",
            "externalParameters": {"source": "https://gitlab.com/group/project", "entryPoint": "build"},
            "resolvedDependencies": [{"uri": "https://gitlab.com/group/project", "digest": {"sha1": "a".repeat(40)}}]
        },
        "runDetails": {"builder": {"id": "https://gitlab.com/group/project/-/runners/1"}}
    });
    let e = eval_json(
        Format::SlsaV1,
        predicate,
        json!({"sourceRepository": "https://gitlab.com/group/project", "sourceDigest": {"gitCommit": "a".repeat(40)}}),
    );
    assert_pass(&e);
    assert_eq!(e.facts["sourceDigest"], json!({"sha1": "a".repeat(40)}));
}

// ---- facts are bounded ----

#[test]
fn long_values_are_cut_in_facts_but_matched_whole() {
    let long_id = format!("https://builder.example/{}", "x".repeat(5000));
    let digest: serde_json::Map<String, Value> = (0..20)
        .map(|i| (format!("alg{i:02}"), json!("ab")))
        .collect();
    let predicate = json!({
        "builder": {"id": long_id},
        "materials": [{"uri": "git+https://example.com/r@refs/heads/x", "digest": digest}]
    });
    let e = eval_json(
        Format::SlsaV02,
        predicate.clone(),
        json!({"builderId": long_id}),
    );
    assert_pass(&e);
    assert_eq!(e.facts["builderId"].as_str().unwrap().chars().count(), 1024);
    assert_eq!(e.facts["sourceDigest"].as_object().unwrap().len(), 8);
    assert_eq!(e.facts["sourceRef"], json!("refs/heads/x"));
    // The cut value is not the value: a policy on the cut form does not pass.
    let cut: String = long_id.chars().take(1024).collect();
    let e = eval_json(Format::SlsaV02, predicate, json!({"builderId": cut}));
    assert_mismatch(&e, &["builderId"]);
    assert!(
        e.message.len() < 3 * 1024,
        "message not bounded: {}",
        e.message.len()
    );
}

// ---- policy parameters ----

#[test]
fn policy_parameters_report_every_problem_with_its_path() {
    let p = problems(json!({
        "builderId": "a", "builderIdRegExp": "a.*",
        "sourceRefRegExp": "(unclosed",
        "sourceRepository": "",
        "sourceDigest": {"gitCommit": "not-hex"}
    }));
    let paths: Vec<&str> = p.iter().map(|(path, _)| path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "builderIdRegExp",
            "sourceRepository",
            "sourceRefRegExp",
            "sourceDigest.gitCommit"
        ],
        "{p:?}"
    );
    assert!(p[0].1.contains("builderId and builderIdRegExp"), "{p:?}");
    assert!(p[2].1.contains("(unclosed"), "{p:?}");
    assert!(p[3].1.contains("not a hex digest"), "{p:?}");
    let p = problems(json!({"sourceDigest": {}}));
    assert_eq!(p[0].0, "sourceDigest");
    let p = problems(json!({"buildType": "x", "buildTypeRegExp": "y"}));
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].0, "buildTypeRegExp");
}

#[test]
fn policy_parameters_refuse_unknown_fields() {
    let e = serde_json::from_value::<ProvenancePolicyParams>(json!({"builderIDRegExp": "x"}))
        .unwrap_err();
    assert!(e.to_string().contains("builderIDRegExp"), "{e}");
    let p: ProvenancePolicyParams = serde_json::from_value(json!({
        "builderIdRegExp": "a", "buildTypeRegExp": "b", "sourceRepositoryRegExp": "c",
        "sourceRefRegExp": "d", "sourceDigest": {"sha1": "ab"}
    }))
    .unwrap();
    assert_eq!(p.builder_id_regexp.as_deref(), Some("a"));
    assert_eq!(p.source_ref_regexp.as_deref(), Some("d"));
    assert!(!ProvenancePolicy::from_params(&p).unwrap().is_empty());
    assert!(ProvenancePolicy::default().is_empty());
}

// ---- malformed documents ----

#[test]
fn malformed_predicates_are_invalid_with_their_cause() {
    let policy = ProvenancePolicy::default();
    let limits = Limits::default();
    let e = evaluate(Format::SlsaV1, b"not json", &policy, &limits);
    assert_invalid(&e, &["SLSA v1 provenance is not valid"]);
    let e = evaluate(Format::SlsaV02, b"null", &policy, &limits);
    assert_invalid(&e, &["SLSA v0.2 provenance is not valid"]);
    let e = evaluate(
        Format::SlsaV1,
        br#"{"runDetails":{"builder":{"id":"b"}}} x"#,
        &policy,
        &limits,
    );
    assert_invalid(&e, &["trailing"]);
    let cases: &[(Format, Value, &[&str])] = &[
        (Format::SlsaV1, json!({}), &["has no runDetails.builder.id"]),
        (
            Format::SlsaV1,
            json!({"runDetails": {"builder": {"id": "  "}}}),
            &["has no runDetails.builder.id"],
        ),
        (
            Format::SlsaV02,
            json!({"buildType": "x"}),
            &["has no builder.id"],
        ),
        (
            Format::SlsaV1,
            json!({"runDetails": {"builder": {"id": 7}}}),
            &["at runDetails.builder.id", "invalid type"],
        ),
        (
            Format::SlsaV02,
            json!({"builder": {"id": "b"}, "materials": {"uri": "x"}}),
            &["at materials"],
        ),
        (
            Format::SlsaV02,
            json!({"builder": {"id": "b"}, "invocation": {"configSource": {"digest": {"sha1": 1}}}}),
            &["at invocation.configSource.digest.sha1"],
        ),
        (
            Format::SlsaV1,
            json!({"runDetails": {"builder": {"id": "b"}}, "buildDefinition": {"resolvedDependencies": [{"uri": ["x"]}]}}),
            &["at buildDefinition.resolvedDependencies[0].uri"],
        ),
        (
            Format::SlsaV1,
            json!({"runDetails": {"builder": {"id": "b"}}, "buildDefinition": {"externalParameters": {"workflow": {"repository": 1}}}}),
            &[
                "at buildDefinition.externalParameters.workflow.repository",
                "expected a string, found a number",
            ],
        ),
        (
            Format::SlsaV1,
            json!({"runDetails": {"builder": {"id": "b"}, "metadata": {"startedOn": 5}}}),
            &["at runDetails.metadata.startedOn"],
        ),
    ];
    for (format, predicate, needles) in cases {
        let e = evaluate(*format, predicate.to_string().as_bytes(), &policy, &limits);
        assert_invalid(&e, needles);
        assert_eq!(e.facts, json!({"format": format.as_str()}), "{e:?}");
    }
}

#[test]
fn a_v1_document_read_as_v02_and_other_formats_are_refused() {
    let (_, predicate) = predicate_of(NPM_V1);
    let e = evaluate(
        Format::SlsaV02,
        &predicate,
        &ProvenancePolicy::default(),
        &Limits::default(),
    );
    assert_invalid(&e, &["SLSA v0.2 provenance has no builder.id"]);
    let e = evaluate(
        Format::Spdx,
        &predicate,
        &ProvenancePolicy::default(),
        &Limits::default(),
    );
    assert_invalid(&e, &["reads SLSA v0.2 and v1", "not spdx"]);
}

#[test]
fn deep_huge_and_long_documents_are_refused_before_evaluation() {
    let policy = ProvenancePolicy::default();
    let deep = format!(
        r#"{{"runDetails":{{"builder":{{"id":"b"}}}},"x":{}{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    let e = evaluate(Format::SlsaV1, deep.as_bytes(), &policy, &Limits::default());
    assert_invalid(&e, &["nested deeper than 64"]);

    let (_, predicate) = predicate_of(GENERIC_V02);
    let small = Limits {
        max_bytes: 1000,
        ..Limits::default()
    };
    let e = evaluate(Format::SlsaV02, &predicate, &policy, &small);
    assert_eq!(e.reason, Some(ReasonCode::SizeLimitExceeded), "{e:?}");
    assert!(!e.passed);

    let materials: Vec<Value> = (0..11)
        .map(|i| json!({"uri": format!("git+https://e.example/{i}"), "digest": {"sha1": "ab"}}))
        .collect();
    let few = Limits {
        max_items: 10,
        ..Limits::default()
    };
    let doc = json!({"builder": {"id": "b"}, "materials": materials}).to_string();
    let e = evaluate(Format::SlsaV02, doc.as_bytes(), &policy, &few);
    assert_eq!(e.reason, Some(ReasonCode::SizeLimitExceeded), "{e:?}");
    assert!(e.message.contains("11 materials"), "{}", e.message);
    let deps: Vec<Value> = (0..11).map(|i| json!({"uri": format!("x{i}")})).collect();
    let doc = json!({"runDetails": {"builder": {"id": "b"}}, "buildDefinition": {"resolvedDependencies": deps}})
        .to_string();
    let e = evaluate(Format::SlsaV1, doc.as_bytes(), &policy, &few);
    assert_eq!(e.reason, Some(ReasonCode::SizeLimitExceeded), "{e:?}");
    assert!(
        e.message.contains("11 resolved dependencies"),
        "{}",
        e.message
    );
}

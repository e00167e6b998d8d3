//! Golden tests of the rendered manifests: every profile with default values, and values overrides.
//! CRD documents are listed but not printed (their YAML is checked by the CRD drift test in src/api).
//! Update with `INSTA_UPDATE=always cargo test --test manifests_golden` and review the diff.
#![allow(clippy::unwrap_used)] // tests may unwrap

use meshctl::manifests::{self, Document, Profile, RenderOptions, ValuesInput};

const VERSION: &str = "0.0.0-golden";

fn render(profile: Profile, files: &[(&str, &str)], set: &[&str]) -> Vec<Document> {
    let input = ValuesInput {
        files: files
            .iter()
            .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
            .collect(),
        set: set.iter().map(|s| (*s).to_owned()).collect(),
        set_string: Vec::new(),
    };
    let options = RenderOptions {
        profile,
        version: VERSION.to_owned(),
    };
    manifests::build(&input, &options).unwrap()
}

fn golden(documents: &[Document]) -> String {
    let mut out = String::from("# Objects in apply order:\n");
    for doc in documents {
        out.push_str(&format!("#   {} ({})\n", doc.display_name(), doc.component));
    }
    let printed: Vec<Document> = documents
        .iter()
        .filter(|d| d.kind != "CustomResourceDefinition")
        .cloned()
        .collect();
    out.push_str(&manifests::to_yaml_stream(&printed).unwrap());
    out
}

#[test]
fn mgmt_profile_defaults() {
    insta::assert_snapshot!(golden(&render(Profile::Mgmt, &[], &[])));
}

#[test]
fn agent_profile() {
    insta::assert_snapshot!(golden(&render(
        Profile::Agent,
        &[],
        &[
            "cluster.name=cluster-1",
            "agent.relayAddress=relay.example.com:9900"
        ]
    )));
}

#[test]
fn single_cluster_profile_defaults() {
    insta::assert_snapshot!(golden(&render(Profile::SingleCluster, &[], &[])));
}

#[test]
fn mgmt_profile_with_overrides() {
    let file = r#"
namespace: platform
image:
  repository: registry.internal/meshctl
  tag: "1.0.0-rc.1"
  pullSecrets: [regcred]
mgmtServer:
  replicas: 3
  service:
    type: NodePort
    annotations:
      service.beta.kubernetes.io/aws-load-balancer-type: nlb
  relay:
    serverSans: [relay.example.com, 10.0.0.5]
  resources:
    limits:
      cpu: "2"
redis:
  enabled: true
prometheus:
  enabled: true
nodeSelector:
  kubernetes.io/os: linux
tolerations:
- key: dedicated
  operator: Equal
  value: mesh
  effect: NoSchedule
extraLabels:
  team: networking
extraAnnotations:
  owner: platform-team
"#;
    insta::assert_snapshot!(golden(&render(
        Profile::Mgmt,
        &[("overrides.yaml", file)],
        &[
            "mgmtServer.logLevel=debug",
            "mgmtServer.service.loadBalancerIP=203.0.113.7"
        ]
    )));
}

/// Every meshctl container in the rendered manifests runs a command line this very binary
/// accepts: a template that passes a flag `serve` does not know would crash-loop in a cluster.
#[test]
fn rendered_container_args_parse_with_this_cli() {
    use clap::Parser;
    let profiles = [
        render(Profile::Mgmt, &[], &[]),
        render(
            Profile::Agent,
            &[],
            &[
                "cluster.name=cluster-1",
                "agent.relayAddress=relay.example.com:9900",
            ],
        ),
        render(Profile::SingleCluster, &[], &[]),
    ];
    let mut checked = 0;
    for documents in &profiles {
        for doc in documents.iter().filter(|d| d.kind == "Deployment") {
            let json = serde_json::to_value(&doc.object).unwrap();
            let containers = json["spec"]["template"]["spec"]["containers"]
                .as_array()
                .unwrap();
            for container in containers {
                let Some(args) = container["args"].as_array() else {
                    continue;
                };
                let args: Vec<String> = args
                    .iter()
                    .map(|a| {
                        a.as_str()
                            .unwrap()
                            .replace("$(POD_NAMESPACE)", "mesh-system")
                    })
                    .collect();
                if args.first().map(String::as_str) != Some("serve") {
                    continue;
                }
                let argv = std::iter::once("meshctl".to_string()).chain(args.iter().cloned());
                if let Err(e) = meshctl::cli::Cli::try_parse_from(argv) {
                    panic!(
                        "{} ({}) runs `meshctl {}`, which this CLI rejects:\n{e}",
                        doc.name,
                        doc.source,
                        args.join(" ")
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(
        checked >= 4,
        "expected server and agent containers in the profiles, checked {checked}"
    );
}

/// Every `fieldRef` in every rendered profile (with every optional component) names its
/// `apiVersion`: the API server defaults it to `v1`, so without it server-side apply of an
/// unchanged release reports the Deployment "configured" instead of "unchanged" on some versions.
#[test]
fn every_field_ref_has_an_api_version() {
    fn field_refs<'a>(
        value: &'a serde_json::Value,
        path: &str,
        out: &mut Vec<(String, &'a serde_json::Value)>,
    ) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, child) in map {
                    let here = format!("{path}.{key}");
                    if key == "fieldRef" {
                        out.push((here.clone(), child));
                    }
                    field_refs(child, &here, out);
                }
            }
            serde_json::Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    field_refs(child, &format!("{path}[{i}]"), out);
                }
            }
            _ => {}
        }
    }
    let everything = ["redis.enabled=true", "prometheus.enabled=true"];
    let mut seen = 0;
    for profile in Profile::ALL {
        let mut set = everything.to_vec();
        if profile == Profile::Agent {
            set.extend([
                "cluster.name=cluster-1",
                "agent.relayAddress=relay.example.com:9900",
            ]);
        }
        for doc in render(profile, &[], &set) {
            let json = serde_json::to_value(&doc.object).unwrap();
            let mut found = Vec::new();
            field_refs(&json, "", &mut found);
            for (path, field_ref) in found {
                assert_eq!(
                    field_ref["apiVersion"], "v1",
                    "{} {} ({}){path} has no apiVersion: {field_ref}",
                    doc.kind, doc.name, doc.source
                );
                seen += 1;
            }
        }
    }
    // The server's and the agent's POD_NAMESPACE, in the three profiles.
    assert!(seen >= 4, "only {seen} fieldRefs found");
}

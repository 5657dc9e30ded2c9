//! The deployment files, read as the tools that consume them would: the Kubernetes
//! manifests and the Slack app manifest as YAML, the systemd unit by `systemd-analyze`
//! where it exists.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml_ng::Value;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every document of a multi-document YAML file.
fn documents(path: &str) -> Vec<Value> {
    let text = read(path);
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| {
            serde_yaml_ng::with::singleton_map_recursive::deserialize(doc)
                .unwrap_or_else(|e| panic!("{path}: {e}"))
        })
        .collect()
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
}

#[test]
fn the_kubernetes_manifest_pins_its_image_mounts_tokens_as_files_and_bounds_resources() {
    let docs = documents("deploy/kubernetes/rolly.yaml");
    let deployment = of_kind(&docs, "Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["automountServiceAccountToken"], false);
    let container = &pod["containers"][0];
    let image = container["image"].as_str().unwrap();
    let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or("latest");
    assert!(
        tag != "latest" && tag.chars().next().is_some_and(|c| c.is_ascii_digit()),
        "a versioned image tag: {image}"
    );
    assert!(container.get("envFrom").is_none(), "no tokens as variables");
    let resources = &container["resources"];
    for key in ["requests", "limits"] {
        assert!(resources[key]["memory"].is_string(), "{key}: {resources:?}");
    }

    let tokens = pod["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["secret"].is_mapping())
        .expect("a secret volume");
    let mount = container["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|m| m["name"] == tokens["name"])
        .expect("the secret is mounted");
    let dir = mount["mountPath"].as_str().unwrap();
    let config = of_kind(&docs, "ConfigMap")["data"]["rolly.toml"]
        .as_str()
        .unwrap();
    for section in ["gitlab", "slack"] {
        assert!(
            config.contains(&format!("token_file = \"{dir}/{section}-token\"")),
            "{section} reads its token from the mounted secret: {config}"
        );
    }

    let service = of_kind(&docs, "Service");
    assert_eq!(service["spec"]["ports"][0]["port"], 9187);
    assert_eq!(
        service["spec"]["selector"],
        deployment["spec"]["selector"]["matchLabels"]
    );
    assert!(read("deploy/kubernetes/rolly.yaml").contains("never on NFS"));
}

#[test]
fn the_prometheus_rules_alert_on_a_missing_rollup_and_failing_runs() {
    let docs = documents("deploy/kubernetes/prometheus-rule.yaml");
    let rules = &of_kind(&docs, "PrometheusRule")["spec"]["groups"][0]["rules"];
    let expr = |alert: &str| {
        rules
            .as_sequence()
            .unwrap()
            .iter()
            .find(|r| r["alert"] == alert)
            .and_then(|r| r["expr"].as_str())
            .unwrap_or_else(|| panic!("no alert {alert}"))
            .to_owned()
    };
    let missing = expr("RollyRollupMissing");
    assert!(
        missing.contains("rolly_last_success_timestamp_seconds") && missing.contains("8 * 24"),
        "{missing}"
    );
    assert!(expr("RollyRunsFailing").contains("rolly_runs_total{outcome=\"failed\"}"));
    // With replicas, a standby's gauge stays where it was at its start: the newest counts.
    assert!(missing.contains("max by (program)"), "{missing}");
    assert!(expr("RollyNoLeader").contains("sum(rolly_leader) == 0"));
}

#[test]
fn the_postgres_manifest_runs_two_replicas_that_roll_one_at_a_time_without_a_volume() {
    let docs = documents("deploy/kubernetes/rolly-postgres.yaml");
    let deployment = of_kind(&docs, "Deployment");
    assert_eq!(deployment["spec"]["replicas"], 2);
    let strategy = &deployment["spec"]["strategy"];
    assert_eq!(strategy["type"], "RollingUpdate");
    assert_eq!(strategy["rollingUpdate"]["maxUnavailable"], 0);
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert!(
        pod["volumes"]
            .as_sequence()
            .unwrap()
            .iter()
            .all(|v| v.get("persistentVolumeClaim").is_none()),
        "no state volume"
    );
    assert!(docs.iter().all(|d| d["kind"] != "PersistentVolumeClaim"));
    assert_eq!(
        of_kind(&docs, "PodDisruptionBudget")["spec"]["minAvailable"],
        1
    );

    // The config it mounts is valid and keeps the password out of the file.
    let toml = of_kind(&docs, "ConfigMap")["data"]["rolly.toml"]
        .as_str()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let toml = toml.replace("/run/secrets/rolly", &dir.path().display().to_string());
    for secret in ["gitlab-token", "slack-token", "postgres-password"] {
        std::fs::write(dir.path().join(secret), "s3cret").unwrap();
    }
    let config = rolly::Config::from_toml(&toml, &Default::default(), rolly::TokenNeeds::ALL)
        .unwrap_or_else(|e| panic!("{e}"));
    let postgres = config.state.postgres.expect("state in PostgreSQL");
    assert_eq!(postgres.config.get_password(), Some(&b"s3cret"[..]));
    assert!(!toml.contains("s3cret"));
}

#[test]
fn the_slack_manifest_asks_for_exactly_the_scopes_the_readme_explains() {
    let docs = documents("deploy/slack/manifest.yaml");
    let scopes: Vec<&str> = docs[0]["oauth_config"]["scopes"]["bot"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let readme = read("README.md");
    let section = readme
        .split_once("### 1. Tokens")
        .and_then(|(_, rest)| rest.split_once("### 2."))
        .map(|(tokens, _)| tokens)
        .expect("the README's Tokens section");
    // The scope list: lines that start with a scope in backticks, e.g.
    // "- `channels:history` (public) / `groups:history` (private): ...".
    let explained: Vec<&str> = section
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("- `"))
        .flat_map(|l| l.split('`').skip(1).step_by(2))
        .filter(|s| s.contains(':') && !s.contains(' '))
        .collect();
    let mut a = scopes.clone();
    let mut b = explained.clone();
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a, b, "manifest {scopes:?}, README {explained:?}");
    assert!(section.contains("deploy/slack/manifest.yaml"));
}

#[test]
fn the_systemd_unit_is_a_notify_service_that_does_not_restart_on_bad_config() {
    let unit = read("deploy/systemd/rolly.service");
    for line in [
        "Type=notify",
        "WatchdogSec=",
        "RestartPreventExitStatus=2",
        "LoadCredential=gitlab-token:",
        "Environment=ROLLY__GITLAB__TOKEN_FILE=%d/gitlab-token",
    ] {
        assert!(unit.lines().any(|l| l.starts_with(line)), "missing {line}");
    }
    assert!(
        !unit.contains("EnvironmentFile"),
        "tokens come as credentials"
    );

    let Ok(version) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze is not installed here; the unit was only read");
        return;
    };
    assert!(version.status.success());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rolly.service");
    let unit = unit.replace("/usr/local/bin/rolly", env!("CARGO_BIN_EXE_rolly"));
    std::fs::write(&path, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_docker_build_context_leaves_out_build_output_history_and_local_state() {
    let ignore = read(".dockerignore");
    for pattern in ["target/", ".git/", "*.db", "*.db-wal"] {
        assert!(ignore.lines().any(|l| l == pattern), "{pattern}");
    }
    assert!(
        !ignore.lines().any(|l| l == "*.lock"),
        "Cargo.lock must stay in the context"
    );
    let dockerfile = read("deploy/Dockerfile");
    for from in dockerfile.lines().filter(|l| l.starts_with("FROM ")) {
        let image = from.split_whitespace().nth(1).unwrap();
        let tag = image.split_once(':').map(|(_, t)| t).unwrap_or("latest");
        assert!(
            tag.chars().next().is_some_and(|c| c.is_ascii_digit()),
            "a pinned version: {from}"
        );
    }
    assert!(dockerfile.contains("--mount=type=cache"));
}

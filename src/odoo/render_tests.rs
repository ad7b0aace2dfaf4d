use super::*;
use crate::ssot::{self, Limits, Ssot};
use std::path::Path;

fn repo_ssot() -> Ssot {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("ssot");
    ssot::load(&dir, &Limits::default())
        .into_ssot()
        .expect("the repo's ssot/ is valid")
}

fn env_of(s: &Ssot, name: &str) -> Environment {
    s.environment(name).expect("environment").clone()
}

fn conf_value<'a>(conf: &'a str, key: &str) -> Option<&'a str> {
    conf.lines()
        .find_map(|l| l.strip_prefix(&format!("{key} = ")))
}

#[test]
fn slugs_give_vcpus() {
    assert_eq!(vcpus_from_slug("s-2vcpu-4gb"), Some(2));
    assert_eq!(vcpus_from_slug("g-2vcpu-8gb"), Some(2));
    assert_eq!(vcpus_from_slug("s-1vcpu-1gb"), Some(1));
    assert_eq!(vcpus_from_slug("s-1vcpu-512mb-10gb"), Some(1));
    assert_eq!(vcpus_from_slug("so1_5-4vcpu-32gb"), Some(4));
    assert_eq!(vcpus_from_slug("c-4"), Some(4));
    assert_eq!(vcpus_from_slug("s-0vcpu-1gb"), None);
    assert_eq!(vcpus_from_slug("banana"), None);
}

#[test]
fn production_workers_come_from_the_size_when_unset() {
    let s = repo_ssot();
    let mut prod = env_of(&s, "production");
    assert_eq!(workers(&prod).0, 6, "explicit value wins");
    prod.spec.odoo.workers = None;
    prod.spec.host.size = "g-2vcpu-8gb".into();
    assert_eq!(workers(&prod).0, 5);
    let mut staging = env_of(&s, "staging");
    staging.spec.odoo.workers = None;
    assert_eq!(workers(&staging).0, 1);
    staging.spec.odoo.workers = Some(4);
    assert_eq!(workers(&staging).0, 1, "limits.maxWorkers caps it");
}

#[test]
fn memory_is_converted_from_mib_to_bytes_and_defaults_apply() {
    let s = repo_ssot();
    let project = s.project("acme").expect("project");
    let dev = env_of(&s, "dev-invoicing");
    let conf = odoo_conf(project, &dev);
    assert_eq!(conf_value(&conf, "limit_memory_soft"), Some("2147483648"));
    assert_eq!(conf_value(&conf, "limit_memory_hard"), Some("2684354560"));
    assert_eq!(conf_value(&conf, "max_cron_threads"), Some("2"));
    assert_eq!(conf_value(&conf, "limit_time_cpu"), Some("60"));
    assert_eq!(conf_value(&conf, "limit_time_real"), Some("120"));
    assert_eq!(conf_value(&conf, "list_db"), Some("False"));
    assert_eq!(conf_value(&conf, "dbfilter"), Some("^acme_dev_invoicing$"));
    let mut big = dev.clone();
    big.spec.odoo.limit_memory_hard_mib = Some(4096);
    assert_eq!(
        conf_value(&odoo_conf(project, &big), "limit_memory_hard"),
        Some("4294967296")
    );
}

#[test]
fn passwords_are_references_never_values() {
    let s = repo_ssot();
    let project = s.project("acme").expect("project");
    let conf = odoo_conf(project, &env_of(&s, "production"));
    assert_eq!(
        conf_value(&conf, "db_password"),
        Some("${ODOO_DB_PASSWORD}")
    );
    assert_eq!(conf_value(&conf, "smtp_password"), Some("${SMTP_PASSWORD}"));
    assert_eq!(
        conf_value(&conf, "admin_passwd"),
        Some("${ODOO_ADMIN_PASSWORD}")
    );
    for l in conf.lines().filter(|l| l.contains("passw")) {
        assert!(l.starts_with(';') || l.ends_with('}'), "{l}");
    }
}

#[test]
fn smtp_production_sends_non_production_captures() {
    let s = repo_ssot();
    let project = s.project("acme").expect("project");
    let prod = odoo_conf(project, &env_of(&s, "production"));
    assert_eq!(conf_value(&prod, "smtp_server"), Some("smtp.mailgun.org"));
    assert_eq!(conf_value(&prod, "smtp_port"), Some("587"));
    assert_eq!(conf_value(&prod, "smtp_ssl"), Some("True"));
    let mut ssl = env_of(&s, "production");
    ssl.spec.mail.port = Some(465);
    ssl.spec.mail.encryption = None;
    let conf = odoo_conf(project, &ssl);
    assert_eq!(conf_value(&conf, "smtp_port"), Some("465"));
    assert_eq!(conf_value(&conf, "smtp_ssl"), Some("True"));
    // Staging with a real SMTP block in its SSOT is still captured.
    let mut staging = env_of(&s, "staging");
    staging.spec.mail = ssl.spec.mail.clone();
    let conf = odoo_conf(project, &staging);
    assert_eq!(conf_value(&conf, "smtp_server"), Some("127.0.0.1"));
    assert_eq!(conf_value(&conf, "smtp_port"), Some("1025"));
    assert!(conf_value(&conf, "smtp_password").is_none());
}

#[test]
fn cloud_init_is_yaml_with_stage_version_catcher_and_port_25_closed() {
    let s = repo_ssot();
    let project = s.project("acme").expect("project");
    for (name, stage, catcher) in [
        ("production", "production", false),
        ("staging", "staging", true),
        ("dev-invoicing", "dev", true),
    ] {
        let text = cloud_init(project, &env_of(&s, name));
        assert!(text.starts_with("#cloud-config\n"));
        let doc: serde_json::Value = serde_saphyr::from_str(&text).expect("valid YAML");
        let files = doc["write_files"].as_array().expect("write_files");
        let conf = files
            .iter()
            .find(|f| f["path"] == "/etc/odooops/odoo.conf.tmpl")
            .and_then(|f| f["content"].as_str())
            .expect("odoo.conf written");
        assert_eq!(
            conf,
            odoo_conf(project, &env_of(&s, name)),
            "{name}: content survives YAML"
        );
        let runcmd = serde_json::to_string(&doc["runcmd"]).expect("json");
        assert!(runcmd.contains(&format!("ODOO_STAGE={stage}")), "{name}");
        assert!(runcmd.contains("ODOO_VERSION=17.0"));
        assert!(runcmd.contains("\"odoo:17.0\""));
        assert_eq!(runcmd.contains("mailpit"), catcher, "{name}");
        assert!(text.contains("--dport 25 -j REJECT"));
    }
}

#[test]
fn image_defaults_to_the_official_one() {
    let s = repo_ssot();
    let mut project = s.project("acme").expect("project").clone();
    project.spec.odoo.image = Some("registry.example/odoo:17.0-acme".into());
    assert_eq!(image(&project), "registry.example/odoo:17.0-acme");
    project.spec.odoo.image = None;
    assert_eq!(image(&project), "odoo:17.0");
}

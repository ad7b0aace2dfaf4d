//! `odooops render --env NAME [--what conf|cloud-init]`: print an environment's rendered
//! odoo.conf or cloud-init user data.

use super::EXIT_OK;
use crate::odoo::render;
use crate::ssot::{self, Limits};
use anyhow::{anyhow, bail, Context};
use clap::ValueEnum;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum What {
    /// The `[options]` odoo.conf.
    Conf,
    /// `#cloud-config` user data for the droplet.
    CloudInit,
}

pub fn run(dir: &Path, env_name: &str, what: What) -> anyhow::Result<i32> {
    let report = ssot::load(dir, &Limits::default());
    let errors = report.error_count();
    let ssot = report.into_ssot().ok_or_else(|| {
        anyhow!(
            "{}: the SSOT has {errors} error(s); run `odooops validate --ssot {}` first",
            dir.display(),
            dir.display()
        )
    })?;
    let Some(env) = ssot.environment(env_name) else {
        let known: Vec<&str> = ssot
            .environments()
            .map(|e| e.metadata.name.as_str())
            .collect();
        bail!(
            "no Environment named `{env_name}` in {} (known: {})",
            dir.display(),
            known.join(", ")
        );
    };
    let project = ssot.project(&env.spec.project).with_context(|| {
        format!(
            "Environment/{env_name}: project `{}` not found",
            env.spec.project
        )
    })?;
    let text = match what {
        What::Conf => render::odoo_conf(project, env),
        What::CloudInit => render::cloud_init(project, env),
    };
    print!("{text}");
    Ok(EXIT_OK)
}

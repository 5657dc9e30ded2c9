//! `rolly preview`: one program's roll-up, printed, nothing delivered.

use std::path::Path;

use super::{Format, build_app, format_rollup, load, select};
use crate::config::TokenNeeds;
use crate::jobs::rollup::build_rollup;

pub(super) async fn run(path: &Path, program: &str, format: Format) -> anyhow::Result<()> {
    let config = load(path, TokenNeeds::GITLAB)?;
    let names = [program.to_owned()];
    select(&config, &names)?;
    let app = build_app(config, true).await?;
    let program = select(&app.config, &names)?[0];
    let svc = &app.services;
    let rollup = build_rollup(svc, program, svc.clock.now()).await?;
    print!("{}", format_rollup(&rollup, format));
    Ok(())
}

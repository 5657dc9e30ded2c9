//! `rolly migrate`: brings the state database's schema up to date and says where it is.

use std::path::Path;

use super::load;
use crate::app::{StateAccess, open_state};
use crate::config::TokenNeeds;
use crate::state::Store;

pub(super) async fn run(path: &Path) -> anyhow::Result<()> {
    let config = load(path, TokenNeeds::NONE)?;
    let (store, _lock) = open_state(&config, StateAccess::Exclusive).await?;
    let version = store.version().await?;
    let place = match &config.state.postgres {
        Some(postgres) => postgres.target(),
        None => config.state.path.display().to_string(),
    };
    println!(
        "{} state database {place} is at schema version {version} (this rolly's: {})",
        store.backend(),
        Store::known_version()
    );
    Ok(())
}

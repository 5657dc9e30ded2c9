//! `rolly once --portfolio` and `rolly preview --portfolio`: a portfolio's message from
//! the programs' recorded roll-ups.

use std::path::Path;

use super::{Failure, Format, build_app, load};
use crate::config::{Config, Portfolio, TokenNeeds};
use crate::jobs::portfolio::{build_portfolio, deliver_portfolio};
use crate::jobs::rollup::Delivery;
use crate::render::{self, SlackPlan};

fn find<'a>(config: &'a Config, name: &str) -> Result<&'a Portfolio, Failure> {
    config.portfolio(name).ok_or_else(|| {
        let known: Vec<&str> = config.portfolios.iter().map(|p| p.name.as_str()).collect();
        Failure::Usage(format!(
            "no portfolio named `{name}` (configured: {})",
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        ))
    })
}

pub(super) async fn preview(path: &Path, name: &str, format: Format) -> anyhow::Result<()> {
    let config = load(path, TokenNeeds::NONE)?;
    find(&config, name)?;
    let app = build_app(config, true).await?;
    let portfolio = find(&app.config, name)?;
    let svc = &app.services;
    let view = build_portfolio(svc, &app.config, portfolio, svc.clock.now()).await?;
    let message = render::portfolio::render(&view);
    let out = match format {
        Format::Json => serde_json::to_string_pretty(&view)? + "\n",
        Format::Slack => serde_json::to_string_pretty(&[&message])? + "\n",
        Format::Text | Format::Markdown | Format::Report => render::terminal::render(&SlackPlan {
            messages: vec![message],
            ..SlackPlan::default()
        }),
    };
    print!("{out}");
    Ok(())
}

pub(super) async fn once(
    path: &Path,
    name: &str,
    dry_run: bool,
    force: bool,
) -> anyhow::Result<()> {
    if dry_run {
        return preview(path, name, Format::Text).await;
    }
    let config = load(path, TokenNeeds::delivery(false))?;
    find(&config, name)?;
    let app = build_app(config, false).await?;
    let portfolio = find(&app.config, name)?;
    let svc = &app.services;
    match deliver_portfolio(svc, &app.config, portfolio, svc.clock.now(), force).await {
        Ok(Delivery::Delivered { channel, ts, .. }) => {
            println!("{name}: delivered to {channel} (ts {ts})");
            Ok(())
        }
        Ok(Delivery::AlreadyDelivered { .. }) => {
            println!("{name}: already delivered for this period (use --force to post again)");
            Ok(())
        }
        Ok(Delivery::InProgress) => {
            println!("{name}: being delivered by another rolly right now; skipped");
            Ok(())
        }
        Err(e) => {
            eprintln!("error: portfolio {name}: {e}");
            Err(Failure::Runs(1).into())
        }
    }
}

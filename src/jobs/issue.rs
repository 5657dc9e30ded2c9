//! The GitLab roll-up issue: filed once per program and period, earlier ones closed.

use crate::config::RollupIssue;
use crate::gitlab::{self, GitLabClient};
use crate::model::rollup::RollUp;
use crate::render;

/// Files the roll-up issue and closes earlier open ones with its label. Returns the
/// issue's URL and warnings about issues that could not be closed.
///
/// An open issue with the label and this program's title and period is one an earlier
/// attempt filed before it could record it: that one is used, unless `force`.
pub(super) async fn file(
    gitlab: &GitLabClient,
    cfg: &RollupIssue,
    rollup: &RollUp,
    force: bool,
) -> Result<(String, Vec<String>), gitlab::Error> {
    let this_period = format!("{} roll-up {} (", rollup.title, rollup.period);
    let open = gitlab
        .open_issues_with_label(&cfg.project, &cfg.label)
        .await?;
    let filed = match open.iter().find(|i| i.title.starts_with(&this_period)) {
        Some(issue) if !force => {
            tracing::info!(url = %issue.web_url, "the roll-up issue of this period is already filed; using it");
            issue.clone()
        }
        _ => {
            let title = format!("{this_period}{})", rollup.date);
            let mut description = render::markdown::render(rollup);
            if let Some(tags) = &cfg.tags {
                description.push_str("\n\n");
                description.push_str(tags);
            }
            gitlab
                .create_issue(
                    &cfg.project,
                    &title,
                    &description,
                    std::slice::from_ref(&cfg.label),
                )
                .await?
        }
    };
    let mut warnings = Vec::new();
    // Programs that share the label in this project leave each other's roll-ups open.
    let anothers = |title: &str| {
        cfg.shared_with
            .iter()
            .any(|other| title.starts_with(&format!("{other} roll-up ")))
    };
    let earlier = open
        .iter()
        .filter(|i| cfg.close_previous && i.iid != filed.iid && !anothers(&i.title));
    for old in earlier {
        if let Err(e) = gitlab.close_issue(&cfg.project, &old.iid).await {
            warnings.push(format!(
                "the earlier roll-up issue {} was not closed: {e}",
                old.web_url
            ));
        }
    }
    Ok((filed.web_url, warnings))
}

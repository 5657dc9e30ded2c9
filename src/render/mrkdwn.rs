//! GitLab markdown to Slack mrkdwn. Temporary minimal version; replaced by the full
//! converter.

/// Where GitLab references in a text point to.
#[derive(Debug, Clone, Copy, Default)]
pub struct RefContext<'a> {
    pub gitlab_url: &'a str,
    pub group_path: Option<&'a str>,
    pub project_path: Option<&'a str>,
}

/// Escapes `&`, `<`, `>`.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A Slack link.
pub fn link(url: &str, label: &str) -> String {
    format!(
        "<{}|{}>",
        url.replace(['<', '>', '|', ' '], ""),
        escape(label).replace('|', "¦")
    )
}

/// Markdown to mrkdwn.
pub fn to_mrkdwn(markdown: &str, _refs: &RefContext) -> String {
    escape(markdown)
}

/// Result of cutting mrkdwn to fit a limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncated {
    pub text: String,
    pub cut: bool,
}

/// Cuts mrkdwn to at most `max_chars` chars.
pub fn truncate(mrkdwn: &str, max_chars: usize) -> Truncated {
    if mrkdwn.chars().count() <= max_chars {
        return Truncated {
            text: mrkdwn.to_owned(),
            cut: false,
        };
    }
    let text: String = mrkdwn.chars().take(max_chars).collect();
    let text = match text.rfind('\n') {
        Some(i) => text[..i].to_owned(),
        None => text,
    };
    Truncated { text, cut: true }
}

//! Escaping GitLab text for Slack, and the only way a link is made.

use std::fmt::Write as _;

/// Schemes a generated link may use; anything else (e.g. `javascript:`) stays text.
const LINK_SCHEMES: [&str; 3] = ["http", "https", "mailto"];
/// Replaces `|` in link labels: Slack ends a label at `|` and has no escape for it.
const LABEL_PIPE: char = '∣';

/// Escapes `&`, `<`, `>` (in that order, & first) — only these three.
///
/// This is what makes `<!channel>` or `<@U123>` in GitLab text harmless in Slack.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(text, &mut out);
    out
}

/// [`escape`], appending to `out`.
pub fn escape_into(text: &str, out: &mut String) {
    let mut plain = 0;
    for (i, b) in text.bytes().enumerate() {
        let entity = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            _ => continue,
        };
        out.push_str(&text[plain..i]);
        out.push_str(entity);
        plain = i + 1;
    }
    out.push_str(&text[plain..]);
}

/// A Slack link `<url|label>`; the label is escaped, and `|` / `>` in it cannot end it
/// early; the url has `<`, `>`, `|`, spaces made safe.
///
/// A label that is empty or equal to the url gives `<url>`. A url whose scheme is not
/// http, https or mailto gives no link at all, only the escaped label (or the escaped
/// url when the label is empty): a link is the one place a `<` reaches Slack, so this
/// function refuses to build `<!here>`-like syntax whatever it is given.
pub fn link(url: &str, label: &str) -> String {
    let mut out = String::with_capacity(url.len() + label.len() + 4);
    push_link(url, label, &mut out);
    out
}

/// [`link`], appending to `out`.
pub fn push_link(url: &str, label: &str, out: &mut String) {
    let url = url.trim();
    let label = label.trim();
    let Some(rest) = allowed_rest(url) else {
        return escape_into(if label.is_empty() { url } else { label }, out);
    };
    out.push('<');
    push_safe_url(url, rest, out);
    if !(label.is_empty() || label == url) {
        out.push('|');
        push_label(label, out);
    }
    out.push('>');
}

/// What follows the scheme's `:`, or `None` when the scheme is not allowed (or an
/// http(s) URL has no `//host`).
pub(super) fn allowed_rest(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once(':')?;
    let allowed = LINK_SCHEMES
        .iter()
        .find(|s| s.eq_ignore_ascii_case(scheme))?;
    let valid = if allowed.starts_with("http") {
        rest.len() > 2 && rest.starts_with("//")
    } else {
        !rest.is_empty()
    };
    valid.then_some(rest)
}

/// The url as it may appear inside `<...>`: the scheme lower-cased, so every link
/// starts with `<http` or `<mailto:`; `&`, `<`, `>`, `|`, whitespace and control
/// characters made harmless.
fn push_safe_url(url: &str, rest: &str, out: &mut String) {
    out.extend(
        url[..url.len() - rest.len()]
            .chars()
            .map(|c| c.to_ascii_lowercase()),
    );
    // Most URLs need nothing replaced.
    if rest
        .bytes()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b'&' | b'<' | b'>' | b'|'))
    {
        out.push_str(rest);
        return;
    }
    for c in rest.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            '|' => out.push_str("%7C"),
            c if c.is_whitespace() || c.is_control() => percent_encode(c, out),
            c => out.push(c),
        }
    }
}

/// Appends `c` as `%XX` bytes of its UTF-8 encoding.
fn percent_encode(c: char, out: &mut String) {
    let mut buf = [0u8; 4];
    for byte in c.encode_utf8(&mut buf).bytes() {
        let _ = write!(out, "%{byte:02X}");
    }
}

/// Appends a link label escaped, without what would end the label or the link early.
fn push_label(label: &str, out: &mut String) {
    for c in label.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' => out.push(LABEL_PIPE),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
}

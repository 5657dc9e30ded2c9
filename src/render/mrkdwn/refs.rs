//! GitLab references in text (`&12`, `#3`, `!4`, `group/project#3`, `@user`) as links.

use super::escape::{escape_into, push_link};

/// Where GitLab references in a text point to.
#[derive(Debug, Clone, Copy, Default)]
pub struct RefContext<'a> {
    /// GitLab base URL without trailing slash, e.g. "https://gitlab.example.com".
    pub gitlab_url: &'a str,
    /// Full path of the group the epic lives in, e.g. "it/pmo" (resolves `&45`).
    pub group_path: Option<&'a str>,
    /// Full path of a project, when known (resolves `#123`, `!67`).
    pub project_path: Option<&'a str>,
}

/// The GitLab base URL without trailing slash, if known.
pub(super) fn base_url<'a>(refs: &RefContext<'a>) -> Option<&'a str> {
    let base = refs.gitlab_url.trim().trim_end_matches('/');
    (!base.is_empty()).then_some(base)
}

/// Appends `text` escaped, with the GitLab references in it turned into links.
///
/// A small scanner, not a regular expression: a reference starts at the beginning of
/// the text or after a character that cannot be part of a path or name, so `R&D`,
/// `issue#1` and `a@b.com` stay text. Every reference holds a sigil (`@`, `#`, `!`,
/// `&`), so the scanner jumps from sigil to sigil; a qualified reference
/// (`group/project#12`) is found from its sigil by looking back over its path.
pub(super) fn linkify_into(text: &str, refs: &RefContext, out: &mut String) {
    let bytes = text.as_bytes();
    // Text before `plain_start` is written; no reference starts inside a written link.
    let mut plain_start = 0;
    let mut at = 0;
    while let Some(offset) = bytes[at..]
        .iter()
        .position(|b| matches!(b, b'@' | b'#' | b'!' | b'&'))
    {
        let sigil = at + offset;
        at = sigil + 1;
        let Some((start, len, url)) = reference_at(text, sigil, plain_start, refs) else {
            continue;
        };
        escape_into(&text[plain_start..start], out);
        push_link(&url, &text[start..start + len], out);
        plain_start = start + len;
        at = plain_start;
    }
    escape_into(&text[plain_start..], out);
}

/// The reference whose sigil is at byte `sigil` of `text`, starting no earlier than
/// `from`: its start, its length in bytes and the URL it links to.
fn reference_at(
    text: &str,
    sigil: usize,
    from: usize,
    refs: &RefContext,
) -> Option<(usize, usize, String)> {
    let prev = |i: usize| text[..i].chars().next_back();
    if starts_reference(prev(sigil)) {
        let (len, url) = match_reference(&text[sigil..], refs)?;
        return Some((sigil, len, url));
    }
    if text.as_bytes()[sigil] == b'@' {
        return None;
    }
    // Right after a name or path: only a qualified reference can hold this sigil, and
    // it starts where the run of path characters before the sigil starts.
    let run = text.as_bytes()[from..sigil]
        .iter()
        .rev()
        .take_while(|&&b| is_name_char(char::from(b)) || b == b'/')
        .count();
    let start = sigil - run;
    if run == 0 || !starts_reference(prev(start)) {
        return None;
    }
    // `a//b#1` and `ab#1` fail here: the path must be whole and hold a `/`.
    let (len, url) = match_reference(&text[start..], refs)?;
    Some((start, len, url))
}

/// The character-by-character scanner `linkify_into` replaced: kept to check that the
/// faster one finds the same references.
#[cfg(test)]
pub(super) fn linkify_into_by_char(text: &str, refs: &RefContext, out: &mut String) {
    let mut plain_start = 0;
    let mut prev: Option<char> = None;
    let mut i = 0;
    while let Some(c) = text[i..].chars().next() {
        let found = if starts_reference(prev) {
            match_reference(&text[i..], refs)
        } else {
            None
        };
        if let Some((len, url)) = found {
            escape_into(&text[plain_start..i], out);
            push_link(&url, &text[i..i + len], out);
            i += len;
            plain_start = i;
            prev = text[..i].chars().next_back();
        } else {
            prev = Some(c);
            i += c.len_utf8();
        }
    }
    escape_into(&text[plain_start..], out);
}

/// Characters of a GitLab path segment or username.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// Whether a reference may start after `prev`.
fn starts_reference(prev: Option<char>) -> bool {
    prev.is_none_or(|c| !(c.is_alphanumeric() || is_name_char(c) || matches!(c, '/' | '@')))
}

/// A reference at the start of `text`: its length in bytes and the URL it links to.
fn match_reference(text: &str, refs: &RefContext) -> Option<(usize, String)> {
    let first = text.chars().next()?;
    match first {
        '@' => match_mention(text, refs),
        '#' | '!' | '&' => match_numbered(text, None, refs),
        c if is_name_char(c) => {
            let path_len = scan_path(text);
            let path = &text[..path_len];
            // Only a path with a `/` is a qualified reference; `foo#1` stays text.
            if !path.contains('/') {
                return None;
            }
            let (len, url) = match_numbered(&text[path_len..], Some(path), refs)?;
            Some((path_len + len, url))
        }
        _ => None,
    }
}

/// Length of the longest `segment(/segment)*` at the start of `text`.
fn scan_path(text: &str) -> usize {
    let mut end = 0;
    let mut segment_start = true;
    for (i, c) in text.char_indices() {
        if is_name_char(c) {
            end = i + 1;
            segment_start = false;
        } else if c == '/' && !segment_start {
            segment_start = true;
        } else {
            break;
        }
    }
    end
}

/// `&45`, `#123`, `!67` at the start of `text`, optionally after a qualifying `path`.
fn match_numbered(text: &str, path: Option<&str>, refs: &RefContext) -> Option<(usize, String)> {
    let sigil = text
        .chars()
        .next()
        .filter(|c| matches!(c, '&' | '#' | '!'))?;
    let digits = text[1..].bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let len = 1 + digits;
    // `#12abc` is not a reference to issue 12.
    if text[len..]
        .chars()
        .next()
        .is_some_and(|c| c.is_alphanumeric() || c == '_')
    {
        return None;
    }
    let number = &text[1..len];
    let base = base_url(refs)?;
    let url = match sigil {
        '&' => format!(
            "{base}/groups/{}/-/epics/{number}",
            path.or(refs.group_path)?
        ),
        '#' => format!("{base}/{}/-/issues/{number}", path.or(refs.project_path)?),
        '!' => format!(
            "{base}/{}/-/merge_requests/{number}",
            path.or(refs.project_path)?
        ),
        _ => return None,
    };
    Some((len, url))
}

/// `@username` (or `@group/subgroup`) at the start of `text`.
fn match_mention(text: &str, refs: &RefContext) -> Option<(usize, String)> {
    let rest = text.strip_prefix('@')?;
    // A sentence may end right after a name; the dot belongs to the sentence.
    let name = rest[..scan_path(rest)].trim_end_matches(['.', '/']);
    let first = name.chars().next()?;
    // `@all` notifies everyone in GitLab; it has no page to link to.
    if !(first.is_ascii_alphanumeric() || first == '_') || name == "all" {
        return None;
    }
    let base = base_url(refs)?;
    Some((1 + name.len(), format!("{base}/{name}")))
}

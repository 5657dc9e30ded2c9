//! Cutting mrkdwn to a limit at the best boundary, never inside a link or an escape.

use super::FENCE;

/// Result of cutting mrkdwn to fit a limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncated {
    /// The (possibly shortened) mrkdwn.
    pub text: String,
    /// Whether anything of the input was dropped.
    pub cut: bool,
}

/// What [`truncate`] appends to close a code block it cut open.
pub(super) const CLOSING_FENCE: &str = "\n```";

/// Cuts mrkdwn to at most `max_chars` Unicode scalar values (chars), preferring a
/// paragraph boundary (blank line), else a line boundary, else a word boundary; never
/// inside a `<...>` link/entity or an `&amp;`-style escape; if the cut leaves a ``` code
/// block open, closes it (the closing fence counts against the limit). `cut` says
/// whether anything was dropped.
///
/// A coarser boundary is only taken if it keeps at least half of `max_chars`; otherwise
/// the next finer one is tried, so one early blank line does not throw away most of the
/// text. Whitespace before the cut is dropped.
pub fn truncate(mrkdwn: &str, max_chars: usize) -> Truncated {
    if mrkdwn.chars().count() <= max_chars {
        return Truncated {
            text: mrkdwn.to_string(),
            cut: false,
        };
    }
    let kept = mrkdwn[..best_cut(mrkdwn, max_chars)].trim_end();
    let mut text = kept.to_string();
    if fence_count(kept) % 2 == 1 {
        text.push_str(CLOSING_FENCE);
    }
    Truncated { text, cut: true }
}

/// How good a place to cut is; a cut at a boundary is also one at every finer kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Boundary {
    Char,
    Word,
    Line,
    Paragraph,
}

/// A place to cut: byte offset and the chars kept once trailing whitespace is trimmed.
#[derive(Debug, Clone, Copy)]
struct Cut {
    at: usize,
    kept_chars: usize,
}

/// The byte offset to cut `text` at so that it fits `max_chars`.
fn best_cut(text: &str, max_chars: usize) -> usize {
    let spans = Protected::scan(text);
    // Latest fitting cut per boundary kind, indexed by `Boundary as usize`.
    let mut best: [Option<Cut>; 4] = [None; 4];
    let mut chars = 0;
    let mut kept_chars = 0;
    for (at, c) in text.char_indices() {
        if chars > max_chars {
            break;
        }
        let fence_cost = if spans.fence_open_at(at) {
            CLOSING_FENCE.chars().count()
        } else {
            0
        };
        if !spans.blocked[at] && kept_chars + fence_cost <= max_chars {
            let cut = Cut { at, kept_chars };
            for slot in &mut best[..=boundary_at(&text[at..]) as usize] {
                *slot = Some(cut);
            }
        }
        chars += 1;
        if !c.is_whitespace() {
            kept_chars = chars;
        }
    }
    choose_cut(&best, max_chars)
}

/// The coarsest boundary that keeps at least half the budget, else the latest cut.
fn choose_cut(best: &[Option<Cut>; 4], max_chars: usize) -> usize {
    let kinds = [Boundary::Paragraph, Boundary::Line, Boundary::Word];
    for kind in kinds {
        if let Some(cut) = best[kind as usize]
            && cut.kept_chars > 0
            && cut.kept_chars * 2 >= max_chars
        {
            return cut.at;
        }
    }
    best[Boundary::Char as usize].map_or(0, |cut| cut.at)
}

/// What kind of boundary a cut right before `rest` is.
fn boundary_at(rest: &str) -> Boundary {
    if let Some(after) = rest.strip_prefix('\n') {
        let next_line = after.split('\n').next().unwrap_or("");
        // A blank line, also inside a quote (`>` alone), separates paragraphs.
        if next_line
            .trim_matches(|c: char| c.is_whitespace() || c == '>')
            .is_empty()
        {
            Boundary::Paragraph
        } else {
            Boundary::Line
        }
    } else if rest.starts_with(char::is_whitespace) {
        Boundary::Word
    } else {
        Boundary::Char
    }
}

/// Spans of mrkdwn that must not be cut: `<...>`, `&amp;`-style escapes, fences.
struct Protected {
    /// `blocked[i]`: byte offset `i` lies strictly inside a protected span.
    blocked: Vec<bool>,
    /// Byte offsets just after each ``` fence, in order.
    fence_ends: Vec<usize>,
}

impl Protected {
    fn scan(text: &str) -> Self {
        let bytes = text.as_bytes();
        let mut spans = Protected {
            blocked: vec![false; bytes.len() + 1],
            fence_ends: Vec::new(),
        };
        let mut i = 0;
        while i < bytes.len() {
            let end = match bytes[i] {
                b'<' => bytes[i..]
                    .iter()
                    .position(|&b| b == b'>')
                    .map_or(bytes.len(), |p| i + p + 1),
                b'&' => i + entity_len(&bytes[i..]),
                b'`' if bytes[i..].starts_with(FENCE.as_bytes()) => {
                    spans.fence_ends.push(i + FENCE.len());
                    i + FENCE.len()
                }
                _ => i + 1,
            };
            spans.blocked[i + 1..end].fill(true);
            i = end.max(i + 1);
        }
        spans
    }

    /// Whether a cut at byte offset `at` (outside any fence) leaves a code block open.
    fn fence_open_at(&self, at: usize) -> bool {
        self.fence_ends.partition_point(|&end| end <= at) % 2 == 1
    }
}

/// Length of an `&name;` / `&#123;` escape at the start of `bytes`, else 1.
fn entity_len(bytes: &[u8]) -> usize {
    let name = bytes[1..]
        .iter()
        .take(8)
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'#')
        .count();
    if name > 0 && bytes.get(1 + name) == Some(&b';') {
        name + 2
    } else {
        1
    }
}

/// Number of ``` fences in `text`, counted left to right without overlap.
fn fence_count(text: &str) -> usize {
    Protected::scan(text).fence_ends.len()
}

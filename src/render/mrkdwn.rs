//! GitLab-flavoured markdown to Slack mrkdwn, and the escaping of GitLab content.
//!
//! This module owns every rule that makes user text safe to show in Slack: `&`, `<` and
//! `>` are escaped, links are only ever produced by [`link`] (and only for http, https
//! and mailto URLs), so text from GitLab can never become a `<!channel>`-style mention.
//! It also owns [`truncate`], which cuts mrkdwn without breaking a link, an escape or a
//! code block. Everything here is pure: no I/O, no clock.

use std::fmt::Write as _;

use pulldown_cmark::{Alignment, Event, LinkType, Options, Parser, Tag, TagEnd};

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

/// Result of cutting mrkdwn to fit a limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncated {
    /// The (possibly shortened) mrkdwn.
    pub text: String,
    /// Whether anything of the input was dropped.
    pub cut: bool,
}

/// Schemes a generated link may use; anything else (e.g. `javascript:`) stays text.
const LINK_SCHEMES: [&str; 3] = ["http", "https", "mailto"];
/// Bullets per nesting level (cycled); Slack has no list syntax of its own.
const BULLETS: [&str; 3] = ["•", "◦", "▪"];
/// Indentation of a nested list and of continuation lines in a list item.
const LIST_INDENT: usize = 4;
/// Slack has no horizontal rule; a line of box-drawing characters stands in.
const RULE: &str = "──────────";
/// A code fence as Slack understands it.
const FENCE: &str = "```";
/// What [`truncate`] appends to close a code block it cut open.
const CLOSING_FENCE: &str = "\n```";
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
fn allowed_rest(url: &str) -> Option<&str> {
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

/// GitLab-flavoured markdown -> Slack mrkdwn, every piece of text escaped.
///
/// See the module tests for the exact rules: headings become bold lines, lists get
/// `•` bullets, tables become preformatted text, HTML comments are dropped, GitLab
/// references become links where `refs` says where they point.
pub fn to_mrkdwn(markdown: &str, refs: &RefContext) -> String {
    let mut out = String::new();
    push_mrkdwn(markdown, refs, &mut out);
    out
}

/// [`to_mrkdwn`], appending to `out`.
pub fn push_mrkdwn(markdown: &str, refs: &RefContext, out: &mut String) {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut renderer = Renderer::new(*refs);
    for event in Parser::new_ext(markdown, options) {
        renderer.event(event);
    }
    renderer.finish_into(out);
}

/// Which separation the next block needs from what was written before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Break {
    None,
    Line,
    Blank,
}

/// A block that prefixes every line written inside it.
#[derive(Debug)]
enum Container {
    /// `> ` on every line.
    Quote,
    /// A list item: its marker on the first line, spaces on the following ones.
    Item {
        marker: String,
        marker_pending: bool,
        indent: usize,
    },
}

/// Inline formatting Slack supports; the index into the renderer's depth counters.
#[derive(Debug, Clone, Copy)]
enum Style {
    Strong,
    Emphasis,
    Strike,
}

impl Style {
    /// The mrkdwn character that opens and closes this style.
    fn marker(self) -> char {
        match self {
            Style::Strong => '*',
            Style::Emphasis => '_',
            Style::Strike => '~',
        }
    }
}

/// A link or image whose label is being collected as plain text.
#[derive(Debug)]
struct Capture {
    dest: String,
    label: String,
    image: bool,
}

/// A table being collected cell by cell, rendered when it ends.
#[derive(Debug, Default)]
struct Table {
    aligns: Vec<Alignment>,
    rows: Vec<Vec<String>>,
    head_rows: usize,
    row: Vec<String>,
    cell: String,
}

/// Turns the pulldown-cmark event stream into mrkdwn.
///
/// Output goes through [`Renderer::write`], which adds line prefixes (quotes, list
/// indentation) and pending formatting markers; block ends only *request* a break, so
/// nothing trails the last block and empty blocks leave no blank lines.
struct Renderer<'a> {
    refs: RefContext<'a>,
    out: String,
    at_line_start: bool,
    brk: Break,
    blank_prefix: String,
    containers: Vec<Container>,
    /// Next number per open list; `None` for bullet lists.
    lists: Vec<Option<u64>>,
    /// Nesting depth per [`Style`], so nested bold inside a heading adds no markers.
    depth: [usize; 3],
    /// Markers of open styles, outermost first.
    active: Vec<char>,
    /// Open markers not written yet (a suffix of `active`): written with the next text,
    /// dropped if the style closes first, so `** **` leaves nothing behind.
    pending_open: Vec<char>,
    captures: Vec<Capture>,
    table: Option<Table>,
    in_code_block: bool,
    html_block: Option<String>,
    /// Consecutive text events, merged so references split by the parser still match.
    text: String,
}

impl<'a> Renderer<'a> {
    fn new(refs: RefContext<'a>) -> Self {
        Renderer {
            refs,
            out: String::new(),
            at_line_start: true,
            brk: Break::None,
            blank_prefix: String::new(),
            containers: Vec::new(),
            lists: Vec::new(),
            depth: [0; 3],
            active: Vec::new(),
            pending_open: Vec::new(),
            captures: Vec::new(),
            table: None,
            in_code_block: false,
            html_block: None,
            text: String::new(),
        }
    }

    fn event(&mut self, event: Event) {
        if let Event::Text(text) = &event {
            self.text.push_str(text);
            return;
        }
        self.flush_text();
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(end) => self.end(end),
            Event::Code(code) => self.code_span(&code),
            Event::Html(html) => match &mut self.html_block {
                Some(block) => block.push_str(&html),
                None => self.inline_html(&html),
            },
            Event::InlineHtml(html) => self.inline_html(&html),
            Event::SoftBreak | Event::HardBreak => self.line_break(),
            Event::Rule => self.rule(),
            Event::TaskListMarker(done) => self.task_marker(done),
            // Math and footnotes are not enabled; their text still arrives as text.
            _ => {}
        }
    }

    fn start(&mut self, tag: Tag) {
        match tag {
            Tag::Paragraph => self.start_block(),
            Tag::List(start) => {
                self.start_block();
                self.lists.push(start);
            }
            Tag::Heading { .. } => {
                self.start_block();
                self.open_style(Style::Strong);
            }
            Tag::BlockQuote(_) => {
                self.start_block();
                self.containers.push(Container::Quote);
            }
            Tag::CodeBlock(_) => {
                self.start_block();
                self.write(FENCE);
                self.end_line();
                self.in_code_block = true;
            }
            Tag::HtmlBlock => self.html_block = Some(String::new()),
            Tag::Item => self.start_item(),
            Tag::Table(aligns) => {
                self.start_block();
                self.table = Some(Table::new(aligns));
            }
            Tag::TableHead | Tag::TableRow => self.with_table(|t| t.row.clear()),
            Tag::TableCell => self.with_table(|t| t.cell.clear()),
            Tag::Strong => self.open_style(Style::Strong),
            Tag::Emphasis => self.open_style(Style::Emphasis),
            Tag::Strikethrough => self.open_style(Style::Strike),
            Tag::Link {
                link_type,
                dest_url,
                ..
            } => self.start_capture(link_type, &dest_url, false),
            Tag::Image {
                link_type,
                dest_url,
                ..
            } => self.start_capture(link_type, &dest_url, true),
            _ => {}
        }
    }

    fn end(&mut self, end: TagEnd) {
        match end {
            TagEnd::Paragraph => self.request(Break::Blank),
            TagEnd::Heading(_) => {
                self.close_style(Style::Strong);
                // The heading's content follows on the next line, as in a status update.
                self.request(Break::Line);
            }
            TagEnd::BlockQuote(_) => {
                self.containers.pop();
                self.request(Break::Blank);
            }
            TagEnd::CodeBlock => self.end_code_block(),
            TagEnd::HtmlBlock => self.end_html_block(),
            TagEnd::List(_) => {
                self.lists.pop();
                let brk = if self.lists.is_empty() {
                    Break::Blank
                } else {
                    Break::Line
                };
                self.request(brk);
            }
            TagEnd::Item => self.end_item(),
            TagEnd::Table => self.end_table(),
            TagEnd::TableHead => self.with_table(Table::end_head),
            TagEnd::TableRow => self.with_table(Table::end_row),
            TagEnd::TableCell => self.with_table(Table::end_cell),
            TagEnd::Strong => self.close_style(Style::Strong),
            TagEnd::Emphasis => self.close_style(Style::Emphasis),
            TagEnd::Strikethrough => self.close_style(Style::Strike),
            TagEnd::Link | TagEnd::Image => self.end_capture(),
            _ => {}
        }
    }

    /// Appends the mrkdwn to `text`, without trailing whitespace on any line or at the end.
    fn finish_into(mut self, text: &mut String) {
        self.flush_text();
        push_trimmed(&self.out, text);
    }

    // ---- writing -------------------------------------------------------------------

    /// Writes already-safe mrkdwn (escaped text, a generated link or marker) inline.
    fn write(&mut self, mrkdwn: &str) {
        if mrkdwn.is_empty() {
            return;
        }
        self.begin_inline();
        self.out.push_str(mrkdwn);
    }

    /// Prepares `out` for inline content that follows at once: the pending break, the
    /// line prefix and the pending style markers.
    fn begin_inline(&mut self) {
        self.flush_break();
        if self.at_line_start {
            self.push_line_prefix();
        }
        self.out.extend(self.pending_open.drain(..));
        self.at_line_start = false;
    }

    /// Ends the current line; an empty line inside a quote still gets its `>`.
    fn end_line(&mut self) {
        // Nothing before it: a leading newline would only be trimmed away later.
        if self.out.is_empty() {
            return;
        }
        if self.at_line_start {
            push_bare_prefix(&self.containers, &mut self.out);
        }
        self.out.push('\n');
        self.at_line_start = true;
    }

    /// Asks for at least `brk` before the next content; remembers the blank line's
    /// prefix now, so a quote that starts after a paragraph does not open with `>`.
    fn request(&mut self, brk: Break) {
        self.brk = self.brk.max(brk);
        if brk == Break::Blank {
            self.blank_prefix.clear();
            push_bare_prefix(&self.containers, &mut self.blank_prefix);
        }
    }

    /// Every block starts on a line of its own.
    fn start_block(&mut self) {
        self.request(Break::Line);
    }

    fn flush_break(&mut self) {
        let brk = std::mem::replace(&mut self.brk, Break::None);
        if self.out.is_empty() || brk == Break::None {
            return;
        }
        if !self.at_line_start {
            self.out.push('\n');
        }
        if brk == Break::Blank {
            self.out.push_str(&self.blank_prefix);
            self.out.push('\n');
        }
        self.at_line_start = true;
    }

    /// Writes the prefix of a new content line; uses up pending list markers.
    fn push_line_prefix(&mut self) {
        for container in &mut self.containers {
            match container {
                Container::Quote => self.out.push_str("> "),
                Container::Item {
                    marker,
                    marker_pending,
                    indent,
                } => {
                    if *marker_pending {
                        self.out.push_str(marker);
                        self.out.push(' ');
                        *marker_pending = false;
                    } else {
                        push_spaces(&mut self.out, *indent);
                    }
                }
            }
        }
    }

    /// Whether inline output currently goes into a link label or a table cell.
    fn diverted(&self) -> bool {
        !self.captures.is_empty() || self.table.is_some()
    }

    /// Adds unformatted text to the link label or table cell being collected.
    /// Returns false when output is not diverted.
    fn divert(&mut self, text: &str) -> bool {
        if let Some(capture) = self.captures.last_mut() {
            capture.label.push_str(text);
        } else if let Some(table) = &mut self.table {
            table.cell.push_str(text);
        } else {
            return false;
        }
        true
    }

    // ---- inline content ------------------------------------------------------------

    fn flush_text(&mut self) {
        if self.text.is_empty() {
            return;
        }
        let mut text = std::mem::take(&mut self.text);
        if let Some(block) = &mut self.html_block {
            block.push_str(&text);
        } else if self.in_code_block {
            self.write_code(&text);
        } else if !self.divert(&text) {
            self.write_text(&text);
        }
        // The buffer is kept for the next text: a section has dozens.
        text.clear();
        self.text = text;
    }

    /// Writes user text: escaped, with GitLab references turned into links.
    fn write_text(&mut self, text: &str) {
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                self.line_break();
            }
            // After a `<br>` the source often has a space; Slack would show it as indent.
            let line = if self.at_line_start {
                line.trim_start()
            } else {
                line
            };
            if !line.is_empty() {
                self.begin_inline();
                linkify_into(line, &self.refs, &mut self.out);
            }
        }
    }

    fn code_span(&mut self, code: &str) {
        if !self.divert(code) {
            self.write(&format!("`{}`", escape(code)));
        }
    }

    fn inline_html(&mut self, html: &str) {
        if html.starts_with("<!--") {
            return;
        }
        if is_br(html) {
            self.line_break();
            return;
        }
        // Any other HTML is user content: shown literally, escaped, never interpreted.
        if !self.divert(html) {
            for (i, line) in html.split('\n').enumerate() {
                if i > 0 {
                    self.line_break();
                }
                self.write(&escape(line));
            }
        }
    }

    /// A new line inside inline content. Slack styles do not span lines, so open
    /// markers are closed before the newline and reopened after it.
    fn line_break(&mut self) {
        if self.divert(" ") {
            return;
        }
        let written = self.active.len() - self.pending_open.len();
        let closing: String = self.active[..written].iter().rev().collect();
        self.out.push_str(&closing);
        self.end_line();
        self.pending_open = self.active.clone();
    }

    fn open_style(&mut self, style: Style) {
        if self.diverted() {
            return;
        }
        self.depth[style as usize] += 1;
        if self.depth[style as usize] == 1 {
            self.active.push(style.marker());
            self.pending_open.push(style.marker());
        }
    }

    fn close_style(&mut self, style: Style) {
        if self.diverted() || self.depth[style as usize] == 0 {
            return;
        }
        self.depth[style as usize] -= 1;
        if self.depth[style as usize] > 0 {
            return;
        }
        let marker = style.marker();
        // Nothing was written since it opened: drop the marker instead of closing it.
        if self.pending_open.last() == Some(&marker) {
            self.pending_open.pop();
        } else {
            self.out.push(marker);
        }
        self.active.pop();
    }

    fn start_capture(&mut self, link_type: LinkType, dest: &str, image: bool) {
        let dest = match link_type {
            LinkType::Email => format!("mailto:{dest}"),
            _ => dest.to_string(),
        };
        self.captures.push(Capture {
            dest,
            label: String::new(),
            image,
        });
    }

    fn end_capture(&mut self) {
        let Some(capture) = self.captures.pop() else {
            return;
        };
        let mut label = capture.label.trim().to_string();
        if label.is_empty() && capture.image {
            label = "image".to_string();
        }
        // An image inside a link contributes its alt text to the link's label.
        if self.divert(&label) {
            return;
        }
        match resolve_url(&capture.dest, &self.refs) {
            Some(url) => self.write(&link(&url, &label)),
            None if label.is_empty() => self.write(&escape(&capture.dest)),
            None => self.write(&escape(&label)),
        }
    }

    // ---- blocks --------------------------------------------------------------------

    fn start_item(&mut self) {
        self.start_block();
        let depth = self.lists.len().max(1) - 1;
        let (marker, indent) = match self.lists.last_mut() {
            Some(Some(next)) => {
                let marker = format!("{next}.");
                *next = next.saturating_add(1);
                let indent = LIST_INDENT.max(marker.chars().count() + 1);
                (marker, indent)
            }
            _ => (BULLETS[depth % BULLETS.len()].to_string(), LIST_INDENT),
        };
        self.containers.push(Container::Item {
            marker,
            marker_pending: true,
            indent,
        });
    }

    fn end_item(&mut self) {
        // An empty item still shows its bullet.
        if let Some(Container::Item {
            marker_pending: true,
            ..
        }) = self.containers.last()
        {
            self.flush_break();
            let start = self.out.len();
            self.push_line_prefix();
            let kept = start + self.out[start..].trim_end().len();
            self.out.truncate(kept);
            self.at_line_start = false;
        }
        self.containers.pop();
        self.request(Break::Line);
    }

    fn task_marker(&mut self, done: bool) {
        let Some(Container::Item {
            marker,
            marker_pending: true,
            ..
        }) = self.containers.last_mut()
        else {
            return;
        };
        *marker = if done { "☑" } else { "☐" }.to_string();
    }

    fn rule(&mut self) {
        self.start_block();
        self.write(RULE);
        self.request(Break::Blank);
    }

    fn write_code(&mut self, code: &str) {
        for line in code.split_inclusive('\n') {
            match line.strip_suffix('\n') {
                Some(body) => {
                    self.write(&escape(body));
                    self.end_line();
                }
                None => self.write(&escape(line)),
            }
        }
    }

    fn end_code_block(&mut self) {
        self.in_code_block = false;
        if !self.at_line_start {
            self.end_line();
        }
        self.write(FENCE);
        self.request(Break::Blank);
    }

    /// HTML blocks: comments (the status markers) vanish, `<br>` becomes a newline,
    /// anything else is shown as escaped text.
    fn end_html_block(&mut self) {
        let Some(html) = self.html_block.take() else {
            return;
        };
        let text = replace_br_tags(&strip_html_comments(&html));
        let text = text.trim_matches(|c: char| c == '\n' || c == '\r');
        if text.trim().is_empty() {
            return;
        }
        self.start_block();
        for (i, line) in text.lines().enumerate() {
            if i > 0 {
                self.end_line();
            }
            self.write(&escape(line.trim_end()));
        }
        self.request(Break::Blank);
    }

    fn with_table(&mut self, f: impl FnOnce(&mut Table)) {
        if let Some(table) = &mut self.table {
            f(table);
        }
    }

    fn end_table(&mut self) {
        let Some(table) = self.table.take() else {
            return;
        };
        self.write(FENCE);
        for line in table.render() {
            self.end_line();
            self.write(&escape(&line));
        }
        self.end_line();
        self.write(FENCE);
        self.request(Break::Blank);
    }
}

/// Writes the prefix of a line without content: quotes and indentation, without
/// trailing whitespace.
fn push_bare_prefix(containers: &[Container], out: &mut String) {
    let start = out.len();
    for container in containers {
        match container {
            Container::Quote => out.push_str("> "),
            Container::Item { indent, .. } => push_spaces(out, *indent),
        }
    }
    let kept = start + out[start..].trim_end().len();
    out.truncate(kept);
}

fn push_spaces(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

impl Table {
    fn new(aligns: Vec<Alignment>) -> Self {
        Table {
            aligns,
            ..Table::default()
        }
    }

    fn end_cell(&mut self) {
        let cell = std::mem::take(&mut self.cell);
        self.row.push(cell.trim().to_string());
    }

    fn end_row(&mut self) {
        let row = std::mem::take(&mut self.row);
        self.rows.push(row);
    }

    fn end_head(&mut self) {
        self.end_row();
        self.head_rows = self.rows.len();
    }

    /// Plain-text lines: columns padded to equal width (in chars), a `-` line under
    /// the header.
    fn render(&self) -> Vec<String> {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                let cells = self.rows.iter().filter_map(|row| row.get(c));
                cells.map(|cell| cell.chars().count()).max().unwrap_or(0)
            })
            .collect();
        let mut lines = Vec::new();
        for (i, row) in self.rows.iter().enumerate() {
            let mut line = String::new();
            for (c, width) in widths.iter().enumerate() {
                if c > 0 {
                    line.push_str(" | ");
                }
                let cell = row.get(c).map_or("", String::as_str);
                push_padded(cell, *width, self.align(c), &mut line);
            }
            line.truncate(line.trim_end().len());
            lines.push(line);
            if i + 1 == self.head_rows {
                let dashes: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
                lines.push(dashes.join("-+-"));
            }
        }
        lines
    }

    fn align(&self, column: usize) -> Alignment {
        self.aligns.get(column).copied().unwrap_or(Alignment::None)
    }
}

/// Appends `written` to `text` without trailing whitespace on any line or at the end.
fn push_trimmed(written: &str, text: &mut String) {
    let written = written.trim_end();
    // Most output has no whitespace before a line break and is taken whole. A byte
    // before a break that is whitespace, or part of a character that may be, sends it
    // line by line.
    let bytes = written.as_bytes();
    let clean = memchr::memchr_iter(b'\n', bytes)
        .all(|at| at == 0 || bytes[at - 1] == b'\n' || bytes[at - 1].is_ascii_graphic());
    if clean {
        text.push_str(written);
        return;
    }
    for (i, line) in written.lines().enumerate() {
        if i > 0 {
            text.push('\n');
        }
        text.push_str(line.trim_end());
    }
}

/// Appends `text` padded with spaces to `width` chars, placed as the column alignment
/// says.
fn push_padded(text: &str, width: usize, align: Alignment, out: &mut String) {
    let gap = width.saturating_sub(text.chars().count());
    let (left, right) = match align {
        Alignment::Right => (gap, 0),
        Alignment::Center => (gap / 2, gap - gap / 2),
        Alignment::None | Alignment::Left => (0, gap),
    };
    out.extend(std::iter::repeat_n(' ', left));
    out.push_str(text);
    out.extend(std::iter::repeat_n(' ', right));
}

/// Removes `<!-- ... -->` comments; an unclosed comment runs to the end (as in HTML).
fn strip_html_comments(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        // Searching from just after `<!` also accepts the short forms `<!-->`, `<!--->`.
        match rest[start + 2..].find("-->") {
            Some(end) => rest = &rest[start + 2 + end + 3..],
            None => rest = "",
        }
    }
    out.push_str(rest);
    out
}

/// Replaces every `<br>`, `<br/>`, `<br />` (any case) with a newline.
fn replace_br_tags(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let tag_end = rest[start..].find('>').map(|end| start + end + 1);
        match tag_end {
            Some(end) if is_br(&rest[start..end]) => {
                out.push('\n');
                rest = &rest[end..];
            }
            _ => {
                out.push('<');
                rest = &rest[start + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Whether an HTML tag is a line break.
fn is_br(tag: &str) -> bool {
    let Some(inner) = tag.strip_prefix('<').and_then(|t| t.strip_suffix('>')) else {
        return false;
    };
    let inner = inner.trim();
    let inner = inner.strip_suffix('/').unwrap_or(inner).trim_end();
    inner.eq_ignore_ascii_case("br")
}

/// A markdown link destination as an absolute URL we may link to, or `None`.
fn resolve_url(dest: &str, refs: &RefContext) -> Option<String> {
    let dest = dest.trim();
    let absolute = if let Some(rest) = dest.strip_prefix("//") {
        format!("https://{rest}")
    } else if dest.starts_with('/') {
        // GitLab writes links to its own pages as paths; they need the instance URL.
        let base = base_url(refs)?;
        format!("{base}{dest}")
    } else {
        dest.to_string()
    };
    allowed_rest(&absolute).is_some().then_some(absolute)
}

/// The GitLab base URL without trailing slash, if known.
fn base_url<'a>(refs: &RefContext<'a>) -> Option<&'a str> {
    let base = refs.gitlab_url.trim().trim_end_matches('/');
    (!base.is_empty()).then_some(base)
}

// ---- GitLab references -------------------------------------------------------------

/// Appends `text` escaped, with the GitLab references in it turned into links.
///
/// A small scanner, not a regular expression: a reference starts at the beginning of
/// the text or after a character that cannot be part of a path or name, so `R&D`,
/// `issue#1` and `a@b.com` stay text. Every reference holds a sigil (`@`, `#`, `!`,
/// `&`), so the scanner jumps from sigil to sigil; a qualified reference
/// (`group/project#12`) is found from its sigil by looking back over its path.
fn linkify_into(text: &str, refs: &RefContext, out: &mut String) {
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
fn linkify_into_by_char(text: &str, refs: &RefContext, out: &mut String) {
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

// ---- truncation ----------------------------------------------------------------------

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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GITLAB: &str = "https://gitlab.example.com";

    /// A context where every kind of reference resolves.
    fn refs() -> RefContext<'static> {
        RefContext {
            gitlab_url: GITLAB,
            group_path: Some("it/pmo"),
            project_path: Some("it/pmo/tracker"),
        }
    }

    fn md(markdown: &str) -> String {
        to_mrkdwn(markdown, &refs())
    }

    fn md_without_refs(markdown: &str) -> String {
        to_mrkdwn(markdown, &RefContext::default())
    }

    /// The safety invariant: every `<` opens a link we generated, every `&` is an escape,
    /// and a link holds no second `<` and at most one `|`.
    fn assert_safe(out: &str) {
        for (i, _) in out.match_indices('<') {
            let rest = &out[i..];
            let ok = ["<http://", "<https://", "<mailto:"]
                .iter()
                .any(|p| rest.starts_with(p));
            assert!(ok, "unsafe `<` at {i} in {out:?}");
            let end = rest.find('>').expect("link is closed");
            let inner = &rest[1..end];
            assert!(!inner.contains('<'), "nested `<` in {out:?}");
            assert!(inner.matches('|').count() <= 1, "extra `|` in {out:?}");
        }
        for (i, _) in out.match_indices('&') {
            let ok = ["&amp;", "&lt;", "&gt;"]
                .iter()
                .any(|e| out[i..].starts_with(e));
            assert!(ok, "raw `&` at {i} in {out:?}");
        }
    }

    // ---- escape ----------------------------------------------------------------------

    #[test]
    fn escape_replaces_ampersand_before_angle_brackets() {
        assert_eq!(escape("a & <b> &lt;"), "a &amp; &lt;b&gt; &amp;lt;");
    }

    #[test]
    fn escape_leaves_all_other_characters_alone() {
        let text = "\"quotes\" 'x' *b* _i_ ~s~ `c` | é 🚀";
        assert_eq!(escape(text), text);
    }

    // ---- link ------------------------------------------------------------------------

    #[test]
    fn link_with_label_uses_pipe_syntax() {
        assert_eq!(link("https://x.io/a", "A"), "<https://x.io/a|A>");
    }

    #[test]
    fn link_label_is_escaped() {
        assert_eq!(
            link("https://x.io", "R&D <1>"),
            "<https://x.io|R&amp;D &lt;1&gt;>"
        );
    }

    #[test]
    fn link_label_pipe_cannot_end_the_label() {
        assert_eq!(link("https://x.io", "a|b"), "<https://x.io|a∣b>");
    }

    #[test]
    fn link_label_greater_than_cannot_end_the_link() {
        assert_eq!(link("https://x.io", "a>b"), "<https://x.io|a&gt;b>");
    }

    #[test]
    fn link_url_angle_brackets_pipe_and_spaces_are_percent_encoded() {
        assert_eq!(
            link("https://x.io/a b<c>|d", ""),
            "<https://x.io/a%20b%3Cc%3E%7Cd>"
        );
    }

    #[test]
    fn link_url_ampersand_is_escaped() {
        assert_eq!(
            link("https://x.io/?a=1&b=2", "q"),
            "<https://x.io/?a=1&amp;b=2|q>"
        );
    }

    #[test]
    fn link_with_label_equal_to_url_is_bare() {
        assert_eq!(link("https://x.io", "https://x.io"), "<https://x.io>");
    }

    #[test]
    fn link_with_empty_label_is_bare() {
        assert_eq!(link("https://x.io", ""), "<https://x.io>");
    }

    #[test]
    fn link_accepts_mailto() {
        assert_eq!(link("mailto:a@b.io", "mail"), "<mailto:a@b.io|mail>");
    }

    #[test]
    fn link_lowercases_the_scheme() {
        assert_eq!(link("HTTPS://x.io", "x"), "<https://x.io|x>");
    }

    #[test]
    fn link_with_javascript_url_is_only_the_escaped_label() {
        assert_eq!(link("javascript:alert(1)", "a<b"), "a&lt;b");
    }

    #[test]
    fn link_refuses_slack_special_syntax_as_url() {
        assert_eq!(link("!channel", ""), "!channel");
        assert_eq!(link("@U123", "x"), "x");
        assert_safe(&link("!here|here", ""));
    }

    // ---- blocks ----------------------------------------------------------------------

    #[test]
    fn plain_paragraph_is_unchanged() {
        assert_eq!(md("On track for the release."), "On track for the release.");
    }

    #[test]
    fn paragraphs_are_separated_by_one_blank_line() {
        assert_eq!(md("one\n\n\n\ntwo"), "one\n\ntwo");
    }

    #[test]
    fn output_has_no_trailing_whitespace_or_blank_lines() {
        let out = md("a  \nb   \n\n- item\n\n```\ncode   \n```\n\n\n");
        assert!(out.lines().all(|l| l == l.trim_end()), "{out:?}");
        assert_eq!(out, out.trim_end());
    }

    #[test]
    fn empty_input_gives_empty_output() {
        assert_eq!(md(""), "");
        assert_eq!(md("\n\n  \n"), "");
    }

    #[test]
    fn heading_becomes_a_bold_line() {
        assert_eq!(md("## Status\nAll good"), "*Status*\nAll good");
    }

    #[test]
    fn heading_after_paragraph_is_separated_by_a_blank_line() {
        assert_eq!(md("intro\n# Next"), "intro\n\n*Next*");
    }

    #[test]
    fn bold_inside_heading_adds_no_nested_markers() {
        assert_eq!(md("# The **big** one"), "*The big one*");
    }

    #[test]
    fn soft_line_break_becomes_newline() {
        assert_eq!(md("line one\nline two"), "line one\nline two");
    }

    #[test]
    fn hard_line_break_becomes_newline() {
        assert_eq!(md("one  \ntwo\\\nthree"), "one\ntwo\nthree");
    }

    #[test]
    fn horizontal_rule_becomes_a_line_of_its_own() {
        assert_eq!(md("a\n\n---\n\nb"), format!("a\n\n{RULE}\n\nb"));
    }

    // ---- inline formatting -----------------------------------------------------------

    #[test]
    fn strong_becomes_single_asterisks() {
        assert_eq!(md("a **b** c"), "a *b* c");
    }

    #[test]
    fn emphasis_becomes_underscores() {
        assert_eq!(md("a *b* _c_"), "a _b_ _c_");
    }

    #[test]
    fn strikethrough_becomes_tildes() {
        assert_eq!(md("~~gone~~"), "~gone~");
    }

    #[test]
    fn nested_styles_are_all_kept() {
        assert_eq!(md("**bold _both_**"), "*bold _both_*");
    }

    #[test]
    fn style_around_only_a_comment_leaves_no_markers() {
        assert_eq!(md("a **<!-- x -->** b"), "a  b");
    }

    #[test]
    fn bold_spanning_lines_is_closed_and_reopened_on_each_line() {
        assert_eq!(md("**one\ntwo**"), "*one*\n*two*");
    }

    #[test]
    fn code_span_keeps_backticks_and_escapes_content() {
        assert_eq!(md("run `a<b && c`"), "run `a&lt;b &amp;&amp; c`");
    }

    #[test]
    fn code_span_content_is_not_formatted_or_linked() {
        assert_eq!(md("`#12 @bob`"), "`#12 @bob`");
    }

    #[test]
    fn fenced_code_block_becomes_triple_backticks() {
        assert_eq!(md("```rust\nlet x = 1;\n```"), "```\nlet x = 1;\n```");
    }

    #[test]
    fn indented_code_block_becomes_triple_backticks() {
        assert_eq!(md("text\n\n    indented\n"), "text\n\n```\nindented\n```");
    }

    #[test]
    fn code_block_content_is_escaped_and_not_formatted() {
        assert_eq!(
            md("```\n**a** <b> #12\n```"),
            "```\n**a** &lt;b&gt; #12\n```"
        );
    }

    // ---- links and images ------------------------------------------------------------

    #[test]
    fn inline_link_becomes_slack_link() {
        assert_eq!(md("[plan](https://x.io/plan)"), "<https://x.io/plan|plan>");
    }

    #[test]
    fn autolink_becomes_bare_slack_link() {
        assert_eq!(md("<https://x.io/a>"), "<https://x.io/a>");
    }

    #[test]
    fn email_autolink_becomes_mailto_link() {
        assert_eq!(md("<a@b.io>"), "<mailto:a@b.io|a@b.io>");
    }

    #[test]
    fn link_label_formatting_is_dropped() {
        assert_eq!(md("[**big** `x`](https://x.io)"), "<https://x.io|big x>");
    }

    #[test]
    fn link_inside_bold_keeps_the_bold() {
        assert_eq!(md("**[a](https://x.io)**"), "*<https://x.io|a>*");
    }

    #[test]
    fn relative_link_is_made_absolute_with_gitlab_url() {
        assert_eq!(
            md("[issue](/it/pmo/x/-/issues/1)"),
            format!("<{GITLAB}/it/pmo/x/-/issues/1|issue>")
        );
    }

    #[test]
    fn relative_link_without_gitlab_url_is_plain_label() {
        assert_eq!(md_without_refs("[issue](/x/-/issues/1)"), "issue");
    }

    #[test]
    fn javascript_link_is_escaped_plain_text() {
        assert_eq!(md("[a<b](javascript:alert(1))"), "a&lt;b");
    }

    #[test]
    fn link_to_non_web_scheme_is_plain_text() {
        assert_eq!(md("[f](file:///etc/passwd) [d](data:text/html,x)"), "f d");
    }

    #[test]
    fn image_becomes_link_labelled_with_alt_text() {
        assert_eq!(
            md("![chart](https://x.io/c.png)"),
            "<https://x.io/c.png|chart>"
        );
    }

    #[test]
    fn image_without_alt_text_is_labelled_image() {
        assert_eq!(md("![](https://x.io/c.png)"), "<https://x.io/c.png|image>");
    }

    #[test]
    fn image_inside_link_uses_alt_text_as_label() {
        assert_eq!(
            md("[![logo](https://i.io/l.png)](https://x.io)"),
            "<https://x.io|logo>"
        );
    }

    // ---- lists -----------------------------------------------------------------------

    #[test]
    fn bullet_list_uses_bullets() {
        assert_eq!(md("- a\n- b"), "• a\n• b");
    }

    #[test]
    fn nested_list_is_indented_with_sub_bullet() {
        assert_eq!(md("- a\n  - b\n- c"), "• a\n    ◦ b\n• c");
    }

    #[test]
    fn ordered_list_respects_start_number() {
        assert_eq!(md("3. c\n4. d"), "3. c\n4. d");
    }

    #[test]
    fn ordered_list_numbers_items_in_sequence() {
        assert_eq!(md("1. a\n1. b\n1. c"), "1. a\n2. b\n3. c");
    }

    #[test]
    fn list_item_continuation_lines_are_indented() {
        assert_eq!(md("- first\n  second"), "• first\n    second");
    }

    #[test]
    fn loose_list_items_are_separated_by_blank_lines() {
        assert_eq!(md("- a\n\n- b"), "• a\n\n• b");
    }

    #[test]
    fn list_after_paragraph_starts_on_its_own_line() {
        assert_eq!(md("Done:\n- a"), "Done:\n\n• a");
    }

    #[test]
    fn task_list_items_use_checkboxes() {
        assert_eq!(md("- [ ] todo\n- [x] done"), "☐ todo\n☑ done");
    }

    #[test]
    fn empty_list_item_still_shows_its_bullet() {
        assert_eq!(md("- a\n-\n- b"), "• a\n•\n• b");
    }

    // ---- quotes ----------------------------------------------------------------------

    #[test]
    fn block_quote_lines_start_with_greater_than() {
        assert_eq!(md("> one\n> two"), "> one\n> two");
    }

    #[test]
    fn block_quote_blank_line_keeps_the_quote() {
        assert_eq!(md("> one\n>\n> two"), "> one\n>\n> two");
    }

    #[test]
    fn quote_after_paragraph_does_not_start_with_empty_quote_line() {
        assert_eq!(md("said:\n\n> hi\n\nafter"), "said:\n\n> hi\n\nafter");
    }

    #[test]
    fn list_inside_quote_is_quoted() {
        assert_eq!(md("> - a\n> - b"), "> • a\n> • b");
    }

    // ---- tables ----------------------------------------------------------------------

    #[test]
    fn table_becomes_padded_preformatted_block() {
        let out = md("| Name | Done |\n|---|---|\n| build | yes |\n| go-live | no |");
        let want = "```\nName    | Done\n--------+-----\nbuild   | yes\ngo-live | no\n```";
        assert_eq!(out, want);
    }

    #[test]
    fn table_columns_are_padded_by_chars_not_bytes() {
        let out = md("| a | b |\n|---|---|\n| ééé | x |\n| z | y |");
        assert!(out.contains("\nz   | y\n"), "{out}");
    }

    #[test]
    fn table_right_aligned_column_is_padded_on_the_left() {
        let out = md("| n | amount |\n|---|---:|\n| a | 5 |");
        assert!(out.contains("\na |      5\n"), "{out}");
    }

    #[test]
    fn table_cell_text_is_escaped_and_unformatted() {
        let out = md("| a |\n|---|\n| **R&D** <!here> |");
        assert!(out.contains("R&amp;D &lt;!here&gt;"), "{out}");
        assert_safe(&out);
    }

    // ---- HTML ------------------------------------------------------------------------

    #[test]
    fn status_markers_are_dropped() {
        let out = md("<!-- Status Start -->\nOn track\n<!-- Status End -->");
        assert_eq!(out, "On track");
    }

    #[test]
    fn multi_line_html_comment_block_is_dropped() {
        assert_eq!(md("a\n\n<!--\nhidden\n-->\n\nb"), "a\n\nb");
    }

    #[test]
    fn inline_html_comment_is_dropped() {
        assert_eq!(md("a<!-- hidden -->b"), "ab");
    }

    #[test]
    fn br_tag_becomes_newline() {
        assert_eq!(md("a<br>b<br/>c<BR />d"), "a\nb\nc\nd");
    }

    #[test]
    fn inline_html_is_shown_as_escaped_text() {
        assert_eq!(md("a <b>bold</b>"), "a &lt;b&gt;bold&lt;/b&gt;");
    }

    #[test]
    fn html_block_is_shown_as_escaped_text() {
        assert_eq!(md("<div>\n*x*\n</div>"), "&lt;div&gt;\n*x*\n&lt;/div&gt;");
    }

    // ---- GitLab references -----------------------------------------------------------

    #[test]
    fn epic_reference_links_to_group_epic() {
        let want = format!("see <{GITLAB}/groups/it/pmo/-/epics/45|&amp;45>");
        assert_eq!(md("see &45"), want);
    }

    #[test]
    fn issue_reference_links_to_project_issue() {
        assert_eq!(
            md("#123"),
            format!("<{GITLAB}/it/pmo/tracker/-/issues/123|#123>")
        );
    }

    #[test]
    fn merge_request_reference_links_to_project_merge_request() {
        let want = format!("<{GITLAB}/it/pmo/tracker/-/merge_requests/67|!67>");
        assert_eq!(md("!67"), want);
    }

    #[test]
    fn qualified_epic_reference_uses_its_own_group() {
        let want = format!("<{GITLAB}/groups/some/group/-/epics/45|some/group&amp;45>");
        assert_eq!(md("some/group&45"), want);
    }

    #[test]
    fn qualified_issue_reference_uses_its_own_project() {
        let want = format!("<{GITLAB}/some/group/project/-/issues/9|some/group/project#9>");
        assert_eq!(md("some/group/project#9"), want);
    }

    #[test]
    fn qualified_merge_request_reference_uses_its_own_project() {
        let want = format!("(<{GITLAB}/a/b/-/merge_requests/2|a/b!2>)");
        assert_eq!(md("(a/b!2)"), want);
    }

    #[test]
    fn issue_reference_without_project_is_plain_text() {
        let ctx = RefContext {
            project_path: None,
            ..refs()
        };
        assert_eq!(to_mrkdwn("#123 and !4", &ctx), "#123 and !4");
    }

    #[test]
    fn epic_reference_without_group_is_escaped_plain_text() {
        let ctx = RefContext {
            group_path: None,
            ..refs()
        };
        assert_eq!(to_mrkdwn("&45", &ctx), "&amp;45");
    }

    #[test]
    fn references_without_gitlab_url_are_plain_text() {
        assert_eq!(md_without_refs("&45 #1 @bob"), "&amp;45 #1 @bob");
    }

    #[test]
    fn user_mention_links_to_profile() {
        assert_eq!(
            md("ask @jane.doe-2"),
            format!("ask <{GITLAB}/jane.doe-2|@jane.doe-2>")
        );
    }

    #[test]
    fn user_mention_trailing_dot_is_not_part_of_the_name() {
        assert_eq!(md("thanks @bob."), format!("thanks <{GITLAB}/bob|@bob>."));
    }

    #[test]
    fn group_mention_with_subgroup_links_to_the_group() {
        assert_eq!(md("@it/pmo"), format!("<{GITLAB}/it/pmo|@it/pmo>"));
    }

    #[test]
    fn email_address_is_not_a_mention() {
        assert_eq!(md("mail a@b.com"), "mail a@b.com");
    }

    #[test]
    fn at_all_is_not_linked() {
        assert_eq!(md("@all"), "@all");
    }

    #[test]
    fn reference_inside_a_word_is_not_linked() {
        assert_eq!(md("R&D issue#1 C!2 x&45"), "R&amp;D issue#1 C!2 x&amp;45");
    }

    #[test]
    fn reference_followed_by_letters_is_not_linked() {
        assert_eq!(md("#12abc"), "#12abc");
    }

    #[test]
    fn reference_in_link_label_is_not_linked() {
        assert_eq!(md("[see #12](https://x.io)"), "<https://x.io|see #12>");
    }

    #[test]
    fn reference_in_heading_is_linked() {
        let want = format!("*Blocked by <{GITLAB}/it/pmo/tracker/-/issues/7|#7>*");
        assert_eq!(md("## Blocked by #7"), want);
    }

    #[test]
    fn word_without_slash_before_reference_is_not_qualified() {
        assert_eq!(md("project#12"), "project#12");
    }

    // ---- safety ----------------------------------------------------------------------

    #[test]
    fn channel_mention_in_text_is_escaped() {
        assert_eq!(md("hey <!channel>"), "hey &lt;!channel&gt;");
    }

    #[test]
    fn here_mention_with_label_in_text_is_escaped() {
        assert_eq!(md("<!here|here>"), "&lt;!here|here&gt;");
    }

    #[test]
    fn user_mention_syntax_in_text_cannot_ping() {
        let out = md_without_refs("<@U123> <#C1> <!subteam^S1>");
        assert_eq!(out, "&lt;@U123&gt; &lt;#C1&gt; &lt;!subteam^S1&gt;");
    }

    #[test]
    fn ampersand_in_text_is_escaped() {
        assert_eq!(md("Q&A &amp; more"), "Q&amp;A &amp; more");
    }

    #[test]
    fn autolink_with_pipe_cannot_inject_a_label() {
        assert_eq!(md("<https://evil.io|click>"), "<https://evil.io%7Cclick>");
    }

    #[test]
    fn special_mention_in_link_label_is_escaped() {
        assert_eq!(
            md("[<!channel>](https://x.io)"),
            "<https://x.io|&lt;!channel&gt;>"
        );
    }

    #[test]
    fn special_mention_as_link_target_is_not_a_link() {
        let out = md("[x](<!channel>) [y](!here)");
        assert_eq!(out, "x y");
    }

    #[test]
    fn special_mention_in_code_is_escaped() {
        assert_eq!(
            md("`<!here>`\n\n```\n<!channel>\n```"),
            "`&lt;!here&gt;`\n\n```\n&lt;!channel&gt;\n```"
        );
    }

    // ---- truncate --------------------------------------------------------------------

    #[test]
    fn truncate_text_that_fits_is_unchanged() {
        let t = truncate("short text", 100);
        assert_eq!(
            t,
            Truncated {
                text: "short text".into(),
                cut: false
            }
        );
    }

    #[test]
    fn truncate_text_of_exactly_the_limit_is_not_cut() {
        assert!(!truncate("12345", 5).cut);
    }

    #[test]
    fn truncate_cuts_at_a_blank_line() {
        let t = truncate("first paragraph here\n\nsecond paragraph", 30);
        assert_eq!(t.text, "first paragraph here");
        assert!(t.cut);
    }

    #[test]
    fn truncate_cuts_at_a_line_when_no_blank_line_fits() {
        let t = truncate("line one is here\nline two is here\nline three", 36);
        assert_eq!(t.text, "line one is here\nline two is here");
    }

    #[test]
    fn truncate_cuts_at_a_word_when_no_line_fits() {
        let t = truncate("one two three four five", 16);
        assert_eq!(t.text, "one two three");
    }

    #[test]
    fn truncate_skips_an_early_blank_line_that_would_drop_most_text() {
        let t = truncate("a\n\nlots of words in a long second paragraph", 30);
        assert_eq!(t.text, "a\n\nlots of words in a long");
    }

    #[test]
    fn truncate_without_any_boundary_cuts_between_chars() {
        let t = truncate("abcdefghijklmnopqrstuvwxyz", 10);
        assert_eq!(t.text, "abcdefghij");
    }

    #[test]
    fn truncate_never_cuts_inside_a_link() {
        let text = "see <https://x.io/a/very/long/path|the plan> now";
        let t = truncate(text, 30);
        assert_eq!(t.text, "see");
    }

    #[test]
    fn truncate_never_cuts_inside_an_escape() {
        let t = truncate("abcdefgh&amp;ijk", 10);
        assert_eq!(t.text, "abcdefgh");
    }

    #[test]
    fn truncate_closes_an_open_code_fence() {
        let text = "intro\n\n```\nline 1\nline 2\nline 3\nline 4\n```";
        let t = truncate(text, 30);
        assert_eq!(t.text, "intro\n\n```\nline 1\nline 2\n```");
        assert!(t.text.chars().count() <= 30);
    }

    #[test]
    fn truncate_counts_the_closing_fence_against_the_limit() {
        let text = "```\naaaa bbbb cccc dddd\n```";
        let t = truncate(text, 20);
        assert_eq!(t.text, "```\naaaa bbbb\n```");
    }

    #[test]
    fn truncate_counts_chars_not_bytes() {
        let text = "ééééé ééééé ééééé";
        let t = truncate(text, 11);
        assert_eq!(t.text, "ééééé ééééé");
        assert_eq!(truncate("éééé", 4).text, "éééé");
    }

    // ---- properties ------------------------------------------------------------------

    /// Markdown built from pieces that exercise links, HTML, code and Slack syntax.
    fn tricky_markdown() -> impl Strategy<Value = String> {
        let pieces = vec![
            "<!channel>",
            "<!here|x>",
            "<@U1>",
            "<#C1>",
            "<",
            ">",
            "&",
            "&amp;",
            "|",
            "[x](",
            "](",
            ")",
            "[",
            "]",
            "![",
            "<https://a.io|b>",
            "<javascript:x>",
            "javascript:",
            "mailto:",
            "/rel",
            "http://h",
            "`",
            "```\n",
            "\n",
            "\n\n",
            "- ",
            "1. ",
            "> ",
            "| a | b |\n|---|---|\n",
            "<!--",
            "-->",
            "<br>",
            "<b>",
            "**",
            "_",
            "~~",
            "\\",
            "@bob",
            "#1",
            "&4",
            "!2",
            "a/b#3",
            " ",
            "é",
            "x",
        ];
        prop::collection::vec(prop::sample::select(pieces), 0..40).prop_map(|v| v.concat())
    }

    /// Text dense in sigils, paths, names and the characters around them.
    fn reference_soup() -> impl Strategy<Value = String> {
        let pieces = vec![
            "a", "B", "1", "23", "/", "//", "#", "!", "&", "@", "@all", ".", "-", "_", " ", "é",
            "\n", "x", "grp/sub", "#12", "&3", "!4", "@ann", "<", "*",
        ];
        prop::collection::vec(prop::sample::select(pieces), 0..30).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn sigil_scanner_finds_what_the_character_scanner_found(
            input in prop_oneof![reference_soup(), any::<String>()],
        ) {
            for ctx in [refs(), RefContext { gitlab_url: "https://gitlab.example.com", group_path: None, project_path: Some("it/app") }] {
                let (mut fast, mut slow) = (String::new(), String::new());
                linkify_into(&input, &ctx, &mut fast);
                linkify_into_by_char(&input, &ctx, &mut slow);
                prop_assert_eq!(fast, slow);
            }
        }

        #[test]
        fn every_line_loses_its_trailing_whitespace_as_line_by_line_trimming_would(
            chars in prop::collection::vec(
                prop::sample::select(vec!['a', 'b', ' ', '\t', '\r', '\n', '\u{a0}', 'é']),
                0..40,
            ),
        ) {
            let written: String = chars.into_iter().collect();
            let mut text = String::from("before");
            push_trimmed(&written, &mut text);
            let lines: Vec<&str> = written.lines().map(str::trim_end).collect();
            prop_assert_eq!(text, format!("before{}", lines.join("\n").trim_end()));
        }

        #[test]
        fn output_of_arbitrary_text_is_safe(input in any::<String>()) {
            assert_safe(&md(&input));
        }

        #[test]
        fn output_of_tricky_markdown_is_safe(input in tricky_markdown()) {
            assert_safe(&md(&input));
            assert_safe(&md_without_refs(&input));
        }

        #[test]
        fn truncate_fits_and_is_a_prefix(
            input in prop_oneof![any::<String>(), tricky_markdown().prop_map(|m| md(&m))],
            max in 20usize..200,
        ) {
            let t = truncate(&input, max);
            prop_assert!(t.text.chars().count() <= max);
            let body = t.text.strip_suffix(CLOSING_FENCE).unwrap_or(&t.text);
            prop_assert!(input.starts_with(&t.text) || input.starts_with(body));
            prop_assert_eq!(t.cut, input.chars().count() > max);
        }
    }
}

//! Markdown to mrkdwn: a renderer over pulldown-cmark's events.

use pulldown_cmark::{Alignment, Event, LinkType, Options, Parser, Tag, TagEnd};

use super::FENCE;
use super::escape::{allowed_rest, escape, link};
use super::refs::{RefContext, base_url, linkify_into};

/// Bullets per nesting level (cycled); Slack has no list syntax of its own.
const BULLETS: [&str; 3] = ["•", "◦", "▪"];
/// Indentation of a nested list and of continuation lines in a list item.
const LIST_INDENT: usize = 4;
/// Slack has no horizontal rule; a line of box-drawing characters stands in.
pub(super) const RULE: &str = "──────────";

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
pub(super) fn push_trimmed(written: &str, text: &mut String) {
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

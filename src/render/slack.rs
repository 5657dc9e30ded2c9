//! Block Kit rendering of a roll-up, within Slack's hard limits.
//!
//! The first message carries the header, the summary and as many entries as fit; the
//! rest continue as thread replies. Every entry is one section block, so splitting can
//! never lose or duplicate an epic. A status section too long for one block is cut at
//! a paragraph or line boundary with a link to the epic.

use std::collections::HashSet;
use std::fmt::Write;

use slack_morphism::prelude::*;

use super::mrkdwn::{self, RefContext, escape, escape_into, link};
use super::update::{ENTRY_ACTION, Target};
use super::{Piece, SlackMessage, SlackPlan};
use crate::model::epic::ItemKind;
use crate::model::extract::{Health, Priority, Section};
use crate::model::phases::PhaseState;
use crate::model::rollup::{Change, Departed, Entry, Freshness, RollUp};

/// Blocks in one message.
pub const MAX_BLOCKS: usize = 50;
/// Characters in one section block's text.
pub const MAX_SECTION_CHARS: usize = 3000;
/// Characters in a header block.
pub const MAX_HEADER_CHARS: usize = 150;
/// Characters in a message's `text`; the fallback texts stay far below it.
#[cfg(test)]
pub const MAX_TEXT_CHARS: usize = 40_000;
/// Characters of block text in one message. Slack rejects messages with too much block
/// text in total (`msg_blocks_too_long`, undocumented; reported around 11-13k), so we stay
/// well below.
pub const MAX_MESSAGE_BLOCK_CHARS: usize = 10_000;
/// Assignees named on an entry before "+N more".
const MAX_ASSIGNEES_SHOWN: usize = 5;

/// A block before conversion to slack-morphism's model, so limits can be measured.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Block {
    Header(String),
    Context(String),
    Section(String),
    /// An entry with an **Update status** button: its text, action id and value.
    Updatable(String, String, String),
    Divider,
}

impl Block {
    fn chars(&self) -> usize {
        match self {
            Block::Header(t)
            | Block::Context(t)
            | Block::Section(t)
            | Block::Updatable(t, _, _) => t.chars().count(),
            Block::Divider => 0,
        }
    }

    fn into_slack(self) -> SlackBlock {
        match self {
            Block::Header(t) => SlackHeaderBlock::new(SlackBlockPlainText::new(t).into()).into(),
            Block::Context(t) => SlackContextBlock::new(vec![SlackContextBlockElement::MarkDown(
                SlackBlockMarkDownText::new(t),
            )])
            .into(),
            Block::Section(t) => SlackSectionBlock::new().with_text(md!(t)).into(),
            Block::Updatable(t, action_id, value) => SlackSectionBlock::new()
                .with_text(md!(t))
                .with_accessory(
                    SlackBlockButtonElement::new(pt!("Update status"))
                        .with_action_id(action_id.into())
                        .with_value(value)
                        .into(),
                )
                .into(),
            Block::Divider => SlackDividerBlock::new().into(),
        }
    }
}

/// Renders `rollup` as a first message plus thread replies.
pub fn render(rollup: &RollUp) -> SlackPlan {
    render_rest(rollup, &HashSet::new(), 0)
}

/// The rest of a roll-up whose first `first_part` messages are posted: what they carried
/// (`posted`, from [`SlackPlan::carries`]) is left out, and the other entries continue
/// the thread from part `first_part + 1` on, however the epics changed in between.
pub fn render_rest(rollup: &RollUp, posted: &HashSet<Piece>, first_part: usize) -> SlackPlan {
    let mut pieces: Vec<(Piece, Block)> = rollup
        .entries
        .iter()
        .map(|e| {
            let text = entry_text(&rollup.gitlab_url, e);
            let block = if rollup.update_buttons {
                let target = Target {
                    program: rollup.program.clone(),
                    item: e.id.clone(),
                };
                // Unique in the message: an item's global id is unique.
                let id: String = e.id.chars().filter(char::is_ascii_digit).collect();
                Block::Updatable(text, format!("{ENTRY_ACTION}_{id}"), target.value())
            } else {
                Block::Section(text)
            };
            (Piece::Entry(e.id.clone()), block)
        })
        .collect();
    if rollup.entries.is_empty() {
        pieces.push((
            Piece::NoEntries,
            Block::Section(format!(
                "_No open {}s carry this program's labels._",
                rollup.item_noun
            )),
        ));
    }
    pieces.extend(
        departed_sections(&rollup.departed)
            .into_iter()
            .enumerate()
            .map(|(i, text)| (Piece::Departed(i), Block::Section(text))),
    );
    pieces.retain(|(carried, _)| !posted.contains(carried));
    let head = (first_part == 0).then(|| head_blocks(rollup));
    let packed = pack(head, pieces);
    let total = first_part + packed.len();
    let (messages, carries) = packed
        .into_iter()
        .enumerate()
        .map(|(i, (mut blocks, carried))| {
            let part = first_part + i;
            if part > 0 {
                blocks.insert(0, Block::Context(continuation(rollup, part + 1, total)));
            }
            let message = SlackMessage {
                text: fallback_text(rollup, part + 1, total),
                blocks: blocks.into_iter().map(Block::into_slack).collect(),
            };
            (message, carried)
        })
        .unzip();
    SlackPlan {
        messages,
        carries,
        first_part,
    }
}

/// Room kept in each reply for its "continued" context line.
const CONTINUATION_RESERVE: usize = 300;

/// Packs keyed sections into messages, with the keys each message carries: the first
/// starts with `head` (without one, every message is a reply); each reply keeps a slot
/// and room for the context line prepended later; dividers separate entries.
fn pack(head: Option<Vec<Block>>, pieces: Vec<(Piece, Block)>) -> Vec<(Vec<Block>, Vec<Piece>)> {
    let replies_only = head.is_none();
    let mut messages = Vec::new();
    let mut current = head.unwrap_or_default();
    let mut carried = Vec::new();
    let mut chars: usize = current.iter().map(Block::chars).sum();
    let mut reserved_slots = 0;
    if replies_only {
        chars = CONTINUATION_RESERVE;
        reserved_slots = 1;
    }
    let mut entries = 0;
    for (key, piece) in pieces {
        let piece_chars = piece.chars();
        let blocks_needed = if entries > 0 { 2 } else { 1 };
        let fits = current.len() + reserved_slots + blocks_needed <= MAX_BLOCKS
            && chars + piece_chars <= MAX_MESSAGE_BLOCK_CHARS;
        if !fits && entries > 0 {
            messages.push((std::mem::take(&mut current), std::mem::take(&mut carried)));
            chars = CONTINUATION_RESERVE;
            reserved_slots = 1;
            entries = 0;
        }
        if entries > 0 {
            current.push(Block::Divider);
        }
        chars += piece_chars;
        current.push(piece);
        carried.push(key);
        entries += 1;
    }
    if !(replies_only && entries == 0) {
        messages.push((current, carried));
    }
    messages
}

fn head_blocks(r: &RollUp) -> Vec<Block> {
    let title = format!("{} · weekly roll-up", r.title);
    let mut context = format!(
        "{} · {} · {} {}{}",
        r.period,
        r.date.format("%A %-d %B %Y"),
        r.summary.total,
        r.item_noun,
        if r.summary.total == 1 { "" } else { "s" }
    );
    if let Some(url) = &r.issue_url {
        context.push_str(&format!(" · {}", link(url, "roll-up issue")));
    }
    let mut blocks = vec![
        Block::Header(cut_plain(&title, MAX_HEADER_CHARS)),
        Block::Context(context),
        Block::Section(summary_text(r)),
    ];
    for notice in &r.notices {
        let text = format!("⚠️ *{}*", escape(&notice.text()));
        blocks.push(Block::Section(
            mrkdwn::truncate(&text, MAX_SECTION_CHARS).text,
        ));
    }
    blocks.push(Block::Divider);
    blocks
}

fn summary_text(r: &RollUp) -> String {
    let s = &r.summary;
    let health: Vec<String> = Health::ALL
        .iter()
        .filter(|h| s.count(**h) > 0 || **h != Health::Unknown)
        .map(|h| format!("{} {} {}", health_emoji(*h), s.count(*h), h.label()))
        .collect();
    let mut flags = Vec::new();
    let mut flag = |n: usize, emoji: &str, words: &str| {
        if n > 0 {
            flags.push(format!("{emoji} {n} {words}"));
        }
    };
    flag(s.no_update, "📝", "without update");
    flag(s.stale, "⏳", "stale");
    flag(s.overdue, "⏰", "overdue");
    flag(s.new, "🆕", "new");
    flag(s.disagree, "🚩", "signals disagree");
    flag(s.departed, "👋", "left");
    let flags = if flags.is_empty() && s.total > 0 {
        format!("✅ every {} has a fresh update", r.item_noun)
    } else {
        flags.join(" · ")
    };
    format!("{}\n{flags}", health.join("   "))
        .trim_end()
        .to_owned()
}

/// The section block of one entry; `gitlab_url` as [`RollUp::gitlab_url`] holds it.
pub fn entry_text(gitlab_url: &str, e: &Entry) -> String {
    let title = if e.title.trim().is_empty() {
        "(untitled)"
    } else {
        e.title.as_str()
    };
    // One string grows from the head to the body: this runs for every epic.
    let mut text = String::with_capacity(512);
    text.push('*');
    mrkdwn::push_link(&e.web_url, title, &mut text);
    text.push_str("*\n");
    push_meta_line(e, &mut text);
    if let Some(line) = changes_line(&e.changes) {
        text.push('\n');
        text.push_str(&line);
    }
    push_signals(e, &mut text);
    if let Some(reason) = &e.unreadable {
        text.push_str("\n⚠️ _Could not be read in full: ");
        escape_into(reason, &mut text);
        text.push('_');
    }
    match &e.freshness {
        Freshness::NotEdited { days } => {
            let _ = write!(text, "\n⏳ _Stale: not edited for {days} days_");
        }
        Freshness::Unchanged => text.push_str("\n⏳ _Stale: unchanged since the last roll-up_"),
        Freshness::Fresh | Freshness::NoUpdate => {}
    }
    // Titles and names are short in GitLab, but keep the head bounded whatever comes in.
    // (Bytes bound chars: most heads are checked without counting.)
    if text.len() > MAX_SECTION_CHARS / 2 {
        text = mrkdwn::truncate(&text, MAX_SECTION_CHARS / 2).text;
    }
    text.push('\n');
    let body_start = text.len();
    match &e.section {
        Section::Text(md) => {
            let refs = refs_of(gitlab_url, e);
            mrkdwn::push_mrkdwn(md, &refs, &mut text);
        }
        other => {
            let reason = other.missing_reason().unwrap_or_default();
            let _ = write!(text, "📝 _No status update: {reason}_");
        }
    }
    // Bytes bound chars: most entries fit without counting.
    if text.len() <= MAX_SECTION_CHARS || text.chars().count() <= MAX_SECTION_CHARS {
        return text;
    }
    let body = text.split_off(body_start);
    let room = MAX_SECTION_CHARS - text.chars().count();
    let read_more = format!("\n… {}", link(&e.web_url, "read more in GitLab"));
    let cut = mrkdwn::truncate(&body, room - read_more.chars().count());
    text.push_str(&cut.text);
    text.push_str(&read_more);
    text
}

/// The signals beside the owner's health, and the health trend, each on a line. Where
/// the owner agrees, only what the entry does not show already (overdue and stale are on
/// its other lines) is added.
fn push_signals(e: &Entry, out: &mut String) {
    let phrases = if e.disagree {
        e.signals.phrases()
    } else {
        e.signals.news()
    };
    if e.disagree {
        let _ = write!(
            out,
            "\n🚩 *Signals disagree* with “{}”: {}",
            e.health.label(),
            phrases.join(" · ")
        );
    } else if !phrases.is_empty() {
        let _ = write!(out, "\n🔎 _{}_", phrases.join(" · "));
    }
    if e.trend.len() > 1 {
        out.push_str("\nTrend ");
        out.extend(e.trend.iter().map(|h| health_emoji(*h)));
    }
    if !e.phases.is_empty() {
        let strip: Vec<String> = e
            .phases
            .iter()
            .map(|p| {
                let name = escape(&p.name);
                let late = if p.late { " ⏰ *late*" } else { "" };
                match p.state {
                    PhaseState::Done => format!("✅ {name}"),
                    PhaseState::Current => format!("▶️ *{name}*{late}"),
                    PhaseState::Next => format!("◻️ {name}{late}"),
                }
            })
            .collect();
        let _ = write!(out, "\nPhases {}", strip.join(" › "));
    }
}

/// Where references in an item's section point: an epic lives in a group, an issue in a
/// project (whose group resolves `&12`).
fn refs_of<'a>(gitlab_url: &'a str, e: &'a Entry) -> RefContext<'a> {
    match e.kind {
        ItemKind::Epic => RefContext {
            gitlab_url,
            group_path: Some(&e.group_path),
            project_path: None,
        },
        ItemKind::Issue => RefContext {
            gitlab_url,
            group_path: e.group_path.rsplit_once('/').map(|(group, _)| group),
            project_path: Some(&e.group_path),
        },
    }
}

/// Priority, health, status, due date, progress, state and assignees, joined by ` · `.
fn push_meta_line(e: &Entry, out: &mut String) {
    const SEPARATOR: &str = " · ";
    match e.priority {
        Priority::None => out.push_str("no priority"),
        ref p => {
            out.push('*');
            escape_into(&p.to_string(), out);
            out.push('*');
        }
    }
    let _ = write!(
        out,
        "{SEPARATOR}{} {}",
        health_emoji(e.health),
        e.health.label()
    );
    if let Some(status) = &e.status {
        out.push_str(SEPARATOR);
        out.push('`');
        escape_into(&status.replace('`', "'"), out);
        out.push('`');
    }
    if let Some(due) = e.due_date {
        let flag = if e.overdue { " ⏰ *overdue*" } else { "" };
        let _ = write!(out, "{SEPARATOR}due {}{flag}", due.format("%-d %b %Y"));
    }
    if e.progress.total() > 0 {
        let _ = write!(
            out,
            "{SEPARATOR}{}/{} {} closed",
            e.progress.closed,
            e.progress.total(),
            e.kind.children()
        );
    }
    if e.closed {
        out.push_str(SEPARATOR);
        out.push_str("closed");
    }
    if !e.assignees.is_empty() {
        out.push_str(SEPARATOR);
        out.push_str("👤 ");
        for (i, person) in e.assignees.iter().take(MAX_ASSIGNEES_SHOWN).enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            escape_into(&person.name, out);
        }
        if e.assignees.len() > MAX_ASSIGNEES_SHOWN {
            let _ = write!(out, ", +{} more", e.assignees.len() - MAX_ASSIGNEES_SHOWN);
        }
    }
}

fn changes_line(changes: &[Change]) -> Option<String> {
    if changes.contains(&Change::New) {
        return Some("🆕 _New in this roll-up_".into());
    }
    let words: Vec<String> = changes
        .iter()
        .filter_map(|c| match c {
            Change::New => None,
            Change::Health { from, to } => {
                Some(format!("health {} → {}", from.label(), to.label()))
            }
            Change::Status { from, to } => Some(format!("status {} → {}", opt(from), opt(to))),
            Change::Priority { from, to } => Some(format!("priority {from} → {to}")),
            Change::DueDate { from, to } => Some(format!(
                "due date {} → {}",
                from.map_or("none".into(), |d| d.format("%-d %b %Y").to_string()),
                to.map_or("none".into(), |d| d.format("%-d %b %Y").to_string())
            )),
        })
        .collect();
    (!words.is_empty()).then(|| format!("🔀 _Since last roll-up:_ {}", escape(&words.join(" · "))))
}

fn opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("none")
}

fn departed_sections(departed: &[Departed]) -> Vec<String> {
    if departed.is_empty() {
        return Vec::new();
    }
    let mut sections = Vec::new();
    let mut current = String::from("👋 *Left since the last roll-up* (closed or label removed)");
    for d in departed {
        let line = format!("\n• {}", link(&d.web_url, &d.title));
        if current.chars().count() + line.chars().count() > MAX_SECTION_CHARS {
            sections.push(std::mem::replace(
                &mut current,
                "👋 *Left since the last roll-up* (continued)".into(),
            ));
        }
        current.push_str(&line);
    }
    sections.push(current);
    sections
}

fn continuation(r: &RollUp, part: usize, total: usize) -> String {
    let title = cut_plain(&r.title, 100);
    format!(
        "{} · {} · continued ({part}/{total})",
        escape(&title),
        r.period
    )
}

fn fallback_text(r: &RollUp, part: usize, total: usize) -> String {
    let title = cut_plain(&r.title, 200);
    if part > 1 {
        return format!(
            "{} roll-up {}, continued ({part}/{total})",
            escape(&title),
            r.period
        );
    }
    let s = &r.summary;
    format!(
        "{} roll-up {}: {} at risk, {} needs attention, {} on track; {} without update, {} stale, {} overdue",
        escape(&title),
        r.period,
        s.at_risk,
        s.needs_attention,
        s.on_track,
        s.no_update,
        s.stale,
        s.overdue
    )
}

pub(super) fn health_emoji(h: Health) -> &'static str {
    match h {
        Health::AtRisk => "🔴",
        Health::NeedsAttention => "🟠",
        Health::OnTrack => "🟢",
        Health::Unknown => "⚪",
    }
}

/// Plain text (header blocks) cut to `max` chars with an ellipsis.
fn cut_plain(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests;

//! GitLab-flavoured markdown to Slack mrkdwn, and the escaping of GitLab content.
//!
//! Everything here is pure (no I/O, no clock) and every rule that makes user text safe
//! to show in Slack lives here: `&`, `<` and `>` are escaped, links are only ever
//! produced by [`link`] (and only for http, https and mailto URLs), so text from GitLab
//! can never become a `<!channel>`-style mention.
//!
//! - `escape`: escaping text and making safe links.
//! - `convert`: markdown to mrkdwn, block by block ([`to_mrkdwn`]).
//! - `refs`: GitLab references (`&12`, `group/project#3`, `@user`) turned into links.
//! - `truncate`: cutting mrkdwn to a limit without breaking a link, an escape or a
//!   code block.

mod convert;
mod escape;
mod refs;
#[cfg(test)]
mod tests;
mod truncate;

pub use convert::{push_mrkdwn, to_mrkdwn};
pub use escape::{escape, escape_into, link, push_link};
pub use refs::RefContext;
pub use truncate::truncate;

/// A code fence as Slack understands it.
const FENCE: &str = "```";

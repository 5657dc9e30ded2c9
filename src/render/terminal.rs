//! A terminal view of a Slack plan, for `rolly demo` and `preview --format text`: what
//! a reader sees in the channel, with links written out.

use serde_json::Value;

use super::SlackPlan;

/// Renders `plan` as plain text, thread replies marked as such.
pub fn render(plan: &SlackPlan) -> String {
    let mut out = String::new();
    let total = plan.messages.len();
    for (i, message) in plan.messages.iter().enumerate() {
        if i > 0 {
            out.push_str(&format!("\n──── thread reply {}/{} ────\n", i + 1, total));
        }
        for block in &message.blocks {
            let block = serde_json::to_value(block).unwrap_or(Value::Null);
            out.push_str(&block_text(&block));
        }
    }
    out
}

fn block_text(block: &Value) -> String {
    let text = |v: &Value| v["text"].as_str().map(readable).unwrap_or_default();
    match block["type"].as_str() {
        Some("header") => {
            let t = text(&block["text"]);
            format!("{t}\n{}\n", "═".repeat(t.chars().count()))
        }
        Some("context") => {
            let parts: Vec<String> = block["elements"]
                .as_array()
                .into_iter()
                .flatten()
                .map(text)
                .collect();
            format!("{}\n", parts.join(" "))
        }
        Some("section") => match block["accessory"]["type"].as_str() {
            Some("button") => format!(
                "\n{}   [{}]\n",
                text(&block["text"]),
                block["accessory"]["text"]["text"]
                    .as_str()
                    .unwrap_or("button")
            ),
            _ => format!("\n{}\n", text(&block["text"])),
        },
        Some("divider") => format!("\n{}\n", "─".repeat(40)),
        _ => String::new(),
    }
}

/// `<url|label>` -> `label (url)`, then the three escapes undone.
fn readable(mrkdwn: &str) -> String {
    let mut out = String::with_capacity(mrkdwn.len());
    let mut rest = mrkdwn;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('>') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let inner = &rest[start + 1..start + len];
        match inner.split_once('|') {
            Some((url, label)) => out.push_str(&format!("{label} ({url})")),
            None => out.push_str(inner),
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_written_out_and_escapes_undone() {
        assert_eq!(
            readable("*<https://x/1|Epic &amp; co>* &lt;!channel&gt;"),
            "*Epic & co (https://x/1)* <!channel>"
        );
    }
}

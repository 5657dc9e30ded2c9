//! Writing a status section back into a description: the text between the markers is
//! replaced and every byte outside them is kept.

use super::extract::find_marker;

/// Why a submitted section cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The text holds one of the markers, which would change where the section ends.
    #[error("the text contains the status marker `{0}`; remove it and submit again")]
    MarkerInText(String),
}

/// `description` with its first status section replaced by `text`.
///
/// - Both markers: what lies between them becomes `text` on lines of its own.
/// - A start marker without an end marker: `text` and the end marker are inserted right
///   after the start marker; what followed it stays after the new end marker.
/// - No start marker (or no description): the markers and `text` are appended.
///
/// # Errors
/// [`EditError::MarkerInText`] when `text` holds either marker (in any letter case or
/// spacing, as markers are found).
pub fn replace_section(
    description: &str,
    start: &str,
    end: &str,
    text: &str,
) -> Result<String, EditError> {
    for marker in [start, end] {
        if find_marker(text, marker, 0).is_some() {
            return Err(EditError::MarkerInText(marker.to_owned()));
        }
    }
    let text = text.trim();
    let Some((_, body_start)) = find_marker(description, start, 0) else {
        let mut out = description.to_owned();
        if !out.is_empty() {
            out.push_str(if out.ends_with('\n') { "\n" } else { "\n\n" });
        }
        out.push_str(&format!("{start}\n{text}\n{end}\n"));
        return Ok(out);
    };
    let mut out = String::with_capacity(description.len() + text.len() + end.len() + 4);
    out.push_str(&description[..body_start]);
    out.push('\n');
    out.push_str(text);
    out.push('\n');
    match find_marker(description, end, body_start) {
        Some((body_end, _)) => out.push_str(&description[body_end..]),
        None => {
            out.push_str(end);
            out.push_str(&description[body_start..]);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::extract::{Section, status_section};

    const START: &str = "<!-- Status Start -->";
    const END: &str = "<!-- Status End -->";

    fn section(description: &str) -> Section {
        status_section(Some(description), START, END)
    }

    #[test]
    fn only_the_text_between_the_markers_changes() {
        let before =
            "Charter\r\n\r\n<!--status start-->\r\nold text\r\n<!-- STATUS END -->\r\nFooter ✓";
        let after = replace_section(before, START, END, "new **text**\n").unwrap();
        assert_eq!(
            after,
            "Charter\r\n\r\n<!--status start-->\nnew **text**\n<!-- STATUS END -->\r\nFooter ✓"
        );
        assert_eq!(section(&after), Section::Text("new **text**".into()));
    }

    #[test]
    fn the_first_of_several_sections_is_the_one_replaced() {
        let before = format!("{START}a{END} and {START}b{END}");
        let after = replace_section(&before, START, END, "c").unwrap();
        assert_eq!(after, format!("{START}\nc\n{END} and {START}b{END}"));
    }

    #[test]
    fn without_a_section_the_markers_and_text_are_appended() {
        assert_eq!(
            replace_section("Charter", START, END, "ok").unwrap(),
            format!("Charter\n\n{START}\nok\n{END}\n")
        );
        assert_eq!(
            replace_section("Charter\n", START, END, "ok").unwrap(),
            format!("Charter\n\n{START}\nok\n{END}\n")
        );
        assert_eq!(
            replace_section("", START, END, "ok").unwrap(),
            format!("{START}\nok\n{END}\n")
        );
    }

    #[test]
    fn an_unterminated_section_gets_its_end_marker_and_keeps_what_followed() {
        let before = format!("{START}\nnotes kept");
        let after = replace_section(&before, START, END, "ok").unwrap();
        assert_eq!(after, format!("{START}\nok\n{END}\nnotes kept"));
        assert_eq!(section(&after), Section::Text("ok".into()));
    }

    #[test]
    fn text_holding_a_marker_is_refused() {
        for text in ["a <!-- status end --> b", "<!--Status Start-->"] {
            assert!(matches!(
                replace_section("x", START, END, text),
                Err(EditError::MarkerInText(_))
            ));
        }
    }
}

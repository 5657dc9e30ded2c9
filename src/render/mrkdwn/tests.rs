use super::convert::{RULE, push_trimmed};
use super::refs::{linkify_into, linkify_into_by_char};
use super::truncate::{CLOSING_FENCE, Truncated};
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
        "a", "B", "1", "23", "/", "//", "#", "!", "&", "@", "@all", ".", "-", "_", " ", "é", "\n",
        "x", "grp/sub", "#12", "&3", "!4", "@ann", "<", "*",
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

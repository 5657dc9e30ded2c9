//! Snapshots of what stakeholders read, for the built-in demo program: the Block Kit
//! messages, the GitLab markdown of the roll-up issue, and the terminal view. Review a
//! changed snapshot as a reader would before accepting it.

use rolly::{
    SlackPlan, demo_portfolio, demo_rollup, render_markdown, render_portfolio, render_slack,
    render_terminal,
};

#[test]
fn demo_rollup_as_block_kit() {
    let plan = render_slack(&demo_rollup());
    insta::assert_json_snapshot!("demo_block_kit", plan.messages);
}

#[test]
fn demo_rollup_as_gitlab_markdown() {
    insta::assert_snapshot!("demo_markdown", render_markdown(&demo_rollup()));
}

#[test]
fn demo_rollup_as_a_reader_sees_it() {
    let plan = render_slack(&demo_rollup());
    insta::assert_snapshot!("demo_text", render_terminal(&plan));
}

#[test]
fn demo_portfolio_as_a_leader_sees_it() {
    let message = render_portfolio(&demo_portfolio());
    let plan = SlackPlan {
        messages: vec![message],
        ..SlackPlan::default()
    };
    insta::assert_snapshot!("demo_portfolio_text", render_terminal(&plan));
}

#[test]
fn demo_report_as_html() {
    let page = rolly::render_report(&demo_rollup(), &rolly::demo_history());
    insta::assert_snapshot!("demo_report_html", page);
}

//! Portfolios: one message per period over several programs' roll-ups, linking each.

use rolly::{Delivery, build_portfolio, deliver_portfolio, deliver_rollup};

use crate::helpers::app::{GROUP, LABEL, TestApp, monday};

/// An hour after the roll-ups, when the daemon runs a portfolio by default.
fn portfolio_time() -> chrono::DateTime<chrono::Utc> {
    monday() + chrono::Duration::hours(1)
}
use crate::helpers::fake_gitlab::epic;

const LEADERS: &str = "C0LEAD0001";

async fn two_programs() -> TestApp {
    let app = TestApp::spawn_with(
        "",
        &format!(
            "[[program]]\nname = \"erp\"\ntitle = \"ERP upgrade\"\ngroup = \"it/erp\"\nlabels = [\"{LABEL}\"]\nslack_channel = \"C0ERP00001\"\n\
             [[portfolio]]\nname = \"it\"\ntitle = \"IT portfolio\"\nprograms = [\"crm\", \"erp\"]\nslack_channel = \"{LEADERS}\"\n"
        ),
    )
    .await;
    app.gitlab
        .add_group(GROUP, vec![epic("CPQ").labels(&[LABEL]).health("onTrack")]);
    app.gitlab.add_group(
        "it/erp",
        vec![
            epic("Ledger").labels(&[LABEL]).health("atRisk"),
            epic("Payroll").labels(&[LABEL]).health("onTrack"),
        ],
    );
    app
}

#[tokio::test]
async fn a_portfolio_posts_one_message_linking_both_rollups_worst_first_and_never_twice() {
    let mut app = two_programs().await;
    for program in &app.config.programs {
        deliver_rollup(&app.svc, program, monday(), false)
            .await
            .unwrap();
    }
    let rollups: Vec<_> = app.slack.posts();
    assert_eq!(rollups.len(), 2);

    let portfolio = app.config.portfolio("it").unwrap().clone();
    let delivered = deliver_portfolio(&app.svc, &app.config, &portfolio, portfolio_time(), false)
        .await
        .unwrap();
    assert!(
        matches!(delivered, Delivery::Delivered { .. }),
        "{delivered:?}"
    );
    let posts: Vec<_> = app
        .slack
        .posts()
        .into_iter()
        .filter(|p| p.channel == LEADERS)
        .collect();
    assert_eq!(posts.len(), 1);
    let text = serde_json::to_string(&posts[0].blocks).unwrap();
    for post in &rollups {
        let link = format!(
            "https://fake.slack.com/archives/{}/p{}",
            post.channel,
            post.ts.replace('.', "")
        );
        assert!(text.contains(&link), "links {link}: {text}");
    }
    let erp = text.find("ERP upgrade").unwrap();
    let crm = text.find("CRM migration").unwrap();
    assert!(
        erp < crm,
        "the program with an item at risk comes first: {text}"
    );

    app.restart().await;
    let again = deliver_portfolio(&app.svc, &app.config, &portfolio, portfolio_time(), false)
        .await
        .unwrap();
    assert!(
        matches!(again, Delivery::AlreadyDelivered { .. }),
        "{again:?}"
    );
    let leaders = app
        .slack
        .posts()
        .into_iter()
        .filter(|p| p.channel == LEADERS);
    assert_eq!(leaders.count(), 1, "not posted twice across a restart");
}

#[tokio::test]
async fn a_program_without_a_rollup_this_period_is_named_first() {
    let app = two_programs().await;
    deliver_rollup(&app.svc, app.program(), monday(), false)
        .await
        .unwrap();
    let portfolio = app.config.portfolio("it").unwrap();
    let view = build_portfolio(&app.svc, &app.config, portfolio, portfolio_time())
        .await
        .unwrap();
    assert_eq!(view.lines[0].name, "erp");
    assert!(view.lines[0].summary.is_none());
    assert!(view.lines[1].link.is_some());
}

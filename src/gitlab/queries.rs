//! The GraphQL operations rolly sends and the conversion of their answers.
//!
//! `graphql_client` generates request and response types from `graphql/*.graphql`
//! checked against `graphql/schema.graphql`. Those generated types stay in this module:
//! the client sees variables it can build and plain records ([`Epic`], [`IssueRef`]).
//! Sending, retries and HTTP errors are the client's job.

use graphql_client::GraphQLQuery;

use super::client::{EpicQuery, IssueRef};
use super::error::Error;
use crate::epic::{Epic, EpicState, HealthStatus, Person, Progress};

// Custom scalars of the GitLab schema, as the generated code names them. Dates and
// times become chrono types; GitLab sends ISO 8601 (`2024-05-01T09:30:00Z`, `2024-05-31`).
type WorkItemID = String;
type Time = chrono::DateTime<chrono::Utc>;
type Date = chrono::NaiveDate;

/// One page of a group's epics as work items.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/schema.graphql",
    query_path = "graphql/epics.graphql",
    variables_derives = "Debug",
    response_derives = "Debug"
)]
pub(super) struct EpicsPage;

/// The username behind the token.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/schema.graphql",
    query_path = "graphql/current_user.graphql",
    variables_derives = "Debug",
    response_derives = "Debug"
)]
pub(super) struct CurrentUser;

/// Whether a group is visible to the token.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/schema.graphql",
    query_path = "graphql/group.graphql",
    variables_derives = "Debug",
    response_derives = "Debug"
)]
pub(super) struct GroupExists;

/// Creates a roll-up issue.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/schema.graphql",
    query_path = "graphql/create_issue.graphql",
    variables_derives = "Debug",
    response_derives = "Debug"
)]
pub(super) struct CreateIssue;

/// One page of open issues with a label.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/schema.graphql",
    query_path = "graphql/open_issues_with_label.graphql",
    variables_derives = "Debug",
    response_derives = "Debug"
)]
pub(super) struct OpenIssuesWithLabel;

/// Closes an issue.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/schema.graphql",
    query_path = "graphql/close_issue.graphql",
    variables_derives = "Debug",
    response_derives = "Debug"
)]
pub(super) struct CloseIssue;

/// Name GitLab gives the work item type of child issues in `rolledUpCountsByType`.
const ISSUE_TYPE_NAME: &str = "Issue";

/// A page of results and the cursor of the next one (`None` on the last page).
#[derive(Debug)]
pub(super) struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Where a page of epics is read: the epics are in one order, oldest first, read
/// forwards from its start and backwards from its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Place {
    /// The first epics after this cursor; `None`: from the start.
    After(Option<String>),
    /// The last epics before this cursor; `None`: from the end.
    Before(Option<String>),
}

impl Place {
    /// The cursor the page is read from, if any.
    pub fn cursor(&self) -> Option<&str> {
        match self {
            Self::After(cursor) | Self::Before(cursor) => cursor.as_deref(),
        }
    }
}

/// Variables for one page of epics: open ones only unless closed ones are wanted.
pub(super) fn epics_variables(
    query: &EpicQuery,
    size: u32,
    place: &Place,
) -> epics_page::Variables {
    let state = if query.include_closed {
        epics_page::IssuableState::all
    } else {
        epics_page::IssuableState::opened
    };
    let (first, after, last, before) = match place {
        Place::After(cursor) => (Some(i64::from(size)), cursor.clone(), None, None),
        Place::Before(cursor) => (None, None, Some(i64::from(size)), cursor.clone()),
    };
    epics_page::Variables {
        group: query.group.clone(),
        include_subgroups: query.include_subgroups,
        state,
        first,
        after,
        last,
        before,
    }
}

/// Epics of one page, or [`Error::GroupNotFound`] when GitLab answered `group: null`.
pub(super) fn epics_page(data: epics_page::ResponseData, group: &str) -> Result<Vec<Epic>, Error> {
    let group_data = data.group.ok_or_else(|| Error::GroupNotFound {
        path: group.to_owned(),
    })?;
    let work_items = group_data
        .work_items
        .ok_or_else(|| Error::UnexpectedAnswer {
            operation: "epics",
            detail: format!(
                "GitLab returned no work items for group {group}; the work items API may be \
             unavailable on this instance"
            ),
        })?;
    Ok(work_items
        .nodes
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .map(|node| epic_from(node, group))
        .collect())
}

/// `pageInfo` of a connection, read on its own.
#[derive(serde::Deserialize)]
struct PageInfo {
    #[serde(rename = "hasNextPage")]
    has_next_page: bool,
    #[serde(rename = "endCursor")]
    end_cursor: Option<String>,
}

/// What the reading of a group needs to know of an `EpicsPage` answer before its epics
/// are decoded.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Frame {
    /// Cursor of the page after this one; `None` on the last page.
    pub next: Option<String>,
    /// Cursor of the page before this one; `None` on the first page.
    pub previous: Option<String>,
    /// Ids of the page's work items.
    pub ids: Vec<String>,
}

/// The page information and work item ids of an `EpicsPage` answer, read without
/// decoding its epics (so the next pages can be asked for while this one is decoded).
/// A missing group or work item list gives an empty last page; decoding the page
/// reports it.
///
/// GitLab's keyset connection says there is a next page whenever `before` was given,
/// and a previous one whenever `after` was given; only the end a page was read
/// towards is told truly.
pub(super) fn epics_frame(data: &str) -> Result<Frame, Error> {
    #[derive(serde::Deserialize)]
    struct Data {
        group: Option<Group>,
    }
    #[derive(serde::Deserialize)]
    struct Group {
        #[serde(rename = "workItems")]
        work_items: Option<WorkItems>,
    }
    #[derive(serde::Deserialize)]
    struct WorkItems {
        #[serde(rename = "pageInfo")]
        page_info: FullPageInfo,
        nodes: Option<Vec<Option<Node>>>,
    }
    #[derive(serde::Deserialize)]
    struct FullPageInfo {
        #[serde(rename = "hasNextPage")]
        has_next_page: bool,
        #[serde(rename = "endCursor")]
        end_cursor: Option<String>,
        #[serde(rename = "hasPreviousPage")]
        has_previous_page: bool,
        #[serde(rename = "startCursor")]
        start_cursor: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct Node {
        id: String,
    }
    let data: Data = serde_json::from_str(data).map_err(|e| Error::UnexpectedAnswer {
        operation: "epics",
        detail: format!("its page information does not have the expected shape ({e})"),
    })?;
    let Some(items) = data.group.and_then(|g| g.work_items) else {
        return Ok(Frame::default());
    };
    let info = items.page_info;
    Ok(Frame {
        next: cursor_to("epics", "next", info.has_next_page, info.end_cursor)?,
        previous: cursor_to(
            "epics",
            "previous",
            info.has_previous_page,
            info.start_cursor,
        )?,
        ids: items
            .nodes
            .unwrap_or_default()
            .into_iter()
            .flatten()
            .map(|node| node.id)
            .collect(),
    })
}

/// What the front of an `EpicsPage` answer tells about the next page, before the rest
/// of the answer has arrived.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum CursorAhead {
    /// There is a next page, after this cursor.
    Next(String),
    /// This is the last page, or `pageInfo` is not as expected (the page's full
    /// decoding reports what is wrong).
    NoHeadStart,
    /// Not in the bytes so far.
    NotYet,
}

/// Looks for the `pageInfo` of an `EpicsPage` answer in the bytes received so far.
///
/// GraphQL orders an answer's fields as the query selects them (spec, "Serialized Map
/// Ordering"), and `epics.graphql` selects `pageInfo` before `nodes`, so GitLab sends the
/// cursor within the first hundred bytes of a page that may be megabytes long. The key
/// `"pageInfo"` followed by `:` cannot come from text inside the answer: a quote within a
/// JSON string is always escaped. The query asks for no other `pageInfo`. Whatever is
/// found here is only a head start: the page's full decoding decides.
pub(super) fn epics_cursor_ahead(prefix: &[u8]) -> CursorAhead {
    const KEY: &[u8] = b"\"pageInfo\"";
    let Some(at) = memchr::memmem::find(prefix, KEY) else {
        return CursorAhead::NotYet;
    };
    let rest = prefix[at + KEY.len()..].trim_ascii_start();
    let Some(value) = rest.strip_prefix(b":") else {
        return CursorAhead::NotYet;
    };
    let mut reader = serde_json::Deserializer::from_slice(value);
    match serde::Deserialize::deserialize(&mut reader) {
        Ok(PageInfo {
            has_next_page: true,
            end_cursor: Some(cursor),
        }) => CursorAhead::Next(cursor),
        Err(e) if e.is_eof() => CursorAhead::NotYet,
        _ => CursorAhead::NoHeadStart,
    }
}

/// The cursor to go on from towards the `towards` page ("next" or "previous"), checking
/// that GitLab gave one when it said there is such a page.
fn cursor_to(
    operation: &'static str,
    towards: &str,
    has_page: bool,
    cursor: Option<String>,
) -> Result<Option<String>, Error> {
    match (has_page, cursor) {
        (false, _) => Ok(None),
        (true, Some(cursor)) => Ok(Some(cursor)),
        (true, None) => Err(Error::UnexpectedAnswer {
            operation,
            detail: format!("GitLab said there is a {towards} page but gave no cursor for it"),
        }),
    }
}

type WorkItemNode = epics_page::EpicsPageGroupWorkItemsNodes;
type Widget = epics_page::EpicsPageGroupWorkItemsNodesWidgets;

/// Converts one work item; widgets the item lacks leave their fields empty.
fn epic_from(node: WorkItemNode, group: &str) -> Epic {
    let mut epic = Epic {
        id: node.id,
        iid: node.iid,
        title: node.title,
        web_url: node.web_url.unwrap_or_default(),
        state: match node.state {
            epics_page::WorkItemState::CLOSED => EpicState::Closed,
            _ => EpicState::Open,
        },
        group_path: node
            .namespace
            .map(|namespace| namespace.full_path)
            .unwrap_or_else(|| group.to_owned()),
        labels: Vec::new(),
        description: None,
        // Never edited: the description dates from creation.
        description_edited_at: Some(node.created_at),
        updated_at: Some(node.updated_at),
        start_date: None,
        due_date: None,
        health_status: None,
        assignees: Vec::new(),
        progress: Progress::default(),
    };
    for widget in node.widgets.unwrap_or_default() {
        apply_widget(&mut epic, widget);
    }
    epic
}

fn apply_widget(epic: &mut Epic, widget: Widget) {
    match widget {
        Widget::WorkItemWidgetDescription(w) => {
            epic.description = w.description;
            if let Some(edited) = w.last_edited_at {
                epic.description_edited_at = Some(edited);
            }
        }
        Widget::WorkItemWidgetLabels(w) => {
            let nodes = w.labels.and_then(|labels| labels.nodes).unwrap_or_default();
            epic.labels = nodes.into_iter().flatten().map(|l| l.title).collect();
        }
        Widget::WorkItemWidgetAssignees(w) => {
            let nodes = w.assignees.and_then(|a| a.nodes).unwrap_or_default();
            epic.assignees = nodes.into_iter().flatten().map(person_from).collect();
        }
        Widget::WorkItemWidgetStartAndDueDate(w) => {
            epic.start_date = w.start_date;
            epic.due_date = w.due_date;
        }
        Widget::WorkItemWidgetHealthStatus(w) => {
            epic.health_status = w.health_status.and_then(health_from);
        }
        Widget::WorkItemWidgetHierarchy(w) => {
            epic.progress = progress_from(&w.rolled_up_counts_by_type);
        }
        // `onlyTypes` keeps other widgets out; any that arrive carry nothing we read.
        _ => {}
    }
}

type AssigneeNode =
    epics_page::EpicsPageGroupWorkItemsNodesWidgetsOnWorkItemWidgetAssigneesAssigneesNodes;

fn person_from(user: AssigneeNode) -> Person {
    Person {
        username: user.username,
        name: user.name,
        // GitLab sends "" for users who keep their email private on some versions.
        public_email: user.public_email.filter(|email| !email.trim().is_empty()),
    }
}

fn health_from(status: epics_page::HealthStatus) -> Option<HealthStatus> {
    match status {
        epics_page::HealthStatus::onTrack => Some(HealthStatus::OnTrack),
        epics_page::HealthStatus::needsAttention => Some(HealthStatus::NeedsAttention),
        epics_page::HealthStatus::atRisk => Some(HealthStatus::AtRisk),
        epics_page::HealthStatus::Other(_) => None,
    }
}

type CountsByType =
    epics_page::EpicsPageGroupWorkItemsNodesWidgetsOnWorkItemWidgetHierarchyRolledUpCountsByType;

/// Child issue counts: the "Issue" entry of the epic's rolled-up counts (all descendants).
fn progress_from(counts: &[CountsByType]) -> Progress {
    let count = |n: Option<i64>| u32::try_from(n.unwrap_or(0)).unwrap_or(0);
    counts
        .iter()
        .find(|c| c.work_item_type.name.eq_ignore_ascii_case(ISSUE_TYPE_NAME))
        .map(|c| Progress {
            open: count(c.counts_by_state.opened),
            closed: count(c.counts_by_state.closed),
        })
        .unwrap_or_default()
}

/// The username, or `None` when GitLab treated the request as anonymous.
pub(super) fn username(data: current_user::ResponseData) -> Option<String> {
    data.current_user.map(|user| user.username)
}

/// Whether GitLab showed the group.
pub(super) fn group_found(data: &group_exists::ResponseData) -> bool {
    data.group.is_some()
}

/// The created issue, or the reasons GitLab gave for not creating it.
pub(super) fn created_issue(
    data: create_issue::ResponseData,
    project: &str,
) -> Result<IssueRef, Error> {
    let payload = data
        .create_issue
        .ok_or_else(|| no_payload("create_issue"))?;
    if !payload.errors.is_empty() {
        return Err(Error::Rejected {
            action: format!("create an issue in project {project}"),
            messages: payload.errors,
        });
    }
    let issue = payload.issue.ok_or_else(|| no_payload("create_issue"))?;
    Ok(IssueRef {
        iid: issue.iid,
        title: issue.title,
        web_url: issue.web_url,
    })
}

/// Variables for one page of open issues with `label`.
pub(super) fn open_issues_variables(
    project: &str,
    label: &str,
    cursor: Option<String>,
) -> open_issues_with_label::Variables {
    open_issues_with_label::Variables {
        project_path: project.to_owned(),
        label: label.to_owned(),
        cursor,
    }
}

/// One page of open issues, or [`Error::ProjectNotFound`] for `project: null`.
pub(super) fn open_issues_page(
    data: open_issues_with_label::ResponseData,
    project: &str,
) -> Result<Page<IssueRef>, Error> {
    let project_data = data.project.ok_or_else(|| Error::ProjectNotFound {
        path: project.to_owned(),
    })?;
    let Some(issues) = project_data.issues else {
        return Ok(Page {
            items: Vec::new(),
            next_cursor: None,
        });
    };
    let items = issues
        .nodes
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .map(|issue| IssueRef {
            iid: issue.iid,
            title: issue.title,
            web_url: issue.web_url,
        })
        .collect();
    let info = issues.page_info;
    Ok(Page {
        items,
        next_cursor: cursor_to(
            "open_issues_with_label",
            "next",
            info.has_next_page,
            info.end_cursor,
        )?,
    })
}

/// `Ok` when GitLab closed the issue, else the reasons it gave.
pub(super) fn closed_issue(
    data: close_issue::ResponseData,
    project: &str,
    iid: &str,
) -> Result<(), Error> {
    let payload = data.update_issue.ok_or_else(|| no_payload("close_issue"))?;
    if payload.errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Rejected {
            action: format!("close issue #{iid} in project {project}"),
            messages: payload.errors,
        })
    }
}

fn no_payload(operation: &'static str) -> Error {
    Error::UnexpectedAnswer {
        operation,
        detail: "GitLab answered without the mutation's result".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pages_frame_is_read_without_decoding_the_epics() {
        let page = r#"{"group": {"workItems": {"pageInfo": {"hasNextPage": true, "endCursor": "z",
            "hasPreviousPage": true, "startCursor": "a"},
            "nodes": [{"id": "gid://gitlab/WorkItem/1", "unexpected": [1, 2]}, null,
                      {"id": "gid://gitlab/WorkItem/2"}]}}}"#;
        assert_eq!(
            epics_frame(page).unwrap(),
            Frame {
                next: Some("z".to_owned()),
                previous: Some("a".to_owned()),
                ids: vec![
                    "gid://gitlab/WorkItem/1".to_owned(),
                    "gid://gitlab/WorkItem/2".to_owned()
                ],
            }
        );
        let only = r#"{"group": {"workItems": {"pageInfo": {"hasNextPage": false, "endCursor": "z",
            "hasPreviousPage": false, "startCursor": "a"}, "nodes": []}}}"#;
        assert_eq!(epics_frame(only).unwrap(), Frame::default());
        // A missing group ends the reading; decoding the page reports it.
        assert_eq!(epics_frame(r#"{"group": null}"#).unwrap(), Frame::default());
        for broken in [
            r#"{"group": {"workItems": {"pageInfo": {"hasNextPage": true, "endCursor": null,
                "hasPreviousPage": false, "startCursor": null}}}}"#,
            r#"{"group": {"workItems": {"pageInfo": {"hasNextPage": false, "endCursor": null,
                "hasPreviousPage": true, "startCursor": null}}}}"#,
            r#"{"group": {"workItems": {"pageInfo": {"hasNextPage": false}}}}"#,
        ] {
            assert!(epics_frame(broken).is_err(), "{broken}");
        }
    }

    #[test]
    fn the_next_cursor_is_seen_as_soon_as_its_page_info_has_arrived() {
        let answer = r#"{"data":{"group":{"workItems":{"pageInfo":{"hasNextPage":true,"endCursor":"abc"},"nodes":[{"id":"gid://gitlab/WorkItem/1"}]}}}}"#;
        let complete = answer.find("},").unwrap() + 1;
        for cut in 0..=answer.len() {
            let expected = if cut < complete {
                CursorAhead::NotYet
            } else {
                CursorAhead::Next("abc".to_owned())
            };
            assert_eq!(
                epics_cursor_ahead(&answer.as_bytes()[..cut]),
                expected,
                "{cut}"
            );
        }
        let spaced = br#"{"data": {"group": {"workItems": {"pageInfo" : {"hasNextPage": true, "endCursor": "abc"}"#;
        assert_eq!(
            epics_cursor_ahead(spaced),
            CursorAhead::Next("abc".to_owned())
        );
    }

    #[test]
    fn the_last_page_or_an_unexpected_page_info_gives_no_head_start() {
        let last = br#"{"data":{"group":{"workItems":{"pageInfo":{"hasNextPage":false,"endCursor":"abc"},"nodes":["#;
        assert_eq!(epics_cursor_ahead(last), CursorAhead::NoHeadStart);
        let no_cursor =
            br#"{"data":{"group":{"workItems":{"pageInfo":{"hasNextPage":true,"endCursor":null},"#;
        assert_eq!(epics_cursor_ahead(no_cursor), CursorAhead::NoHeadStart);
        let odd = br#"{"data":{"group":{"workItems":{"pageInfo":[1],"#;
        assert_eq!(epics_cursor_ahead(odd), CursorAhead::NoHeadStart);
    }

    #[test]
    fn page_info_written_in_an_epic_is_not_taken_for_the_cursor() {
        // Nodes first, as a server that ignores the selection order would send them.
        let answer = r#"{"data":{"group":{"workItems":{"nodes":[{"title":"\"pageInfo\":{\"hasNextPage\":true,\"endCursor\":\"evil\"}"}],"pageInfo":{"hasNextPage":true,"endCursor":"abc"}}}}}"#;
        let real = answer.rfind("\"pageInfo\"").unwrap();
        assert_eq!(
            epics_cursor_ahead(&answer.as_bytes()[..real]),
            CursorAhead::NotYet
        );
        assert_eq!(
            epics_cursor_ahead(answer.as_bytes()),
            CursorAhead::Next("abc".to_owned())
        );
    }

    fn counts(name: &str, opened: i64, closed: i64) -> CountsByType {
        serde_json::from_value(serde_json::json!({
            "workItemType": { "name": name },
            "countsByState": { "opened": opened, "closed": closed }
        }))
        .unwrap()
    }

    #[test]
    fn progress_counts_only_child_issues() {
        let rolled_up = [
            counts("Epic", 9, 9),
            counts("Issue", 3, 5),
            counts("Task", 7, 7),
        ];
        assert_eq!(progress_from(&rolled_up), Progress { open: 3, closed: 5 });
    }

    #[test]
    fn an_epic_without_child_issues_has_no_progress() {
        assert_eq!(progress_from(&[counts("Epic", 2, 0)]), Progress::default());
    }

    #[test]
    fn a_next_page_without_cursor_is_an_unexpected_answer() {
        assert!(cursor_to("epics", "next", true, None).is_err());
        assert_eq!(cursor_to("epics", "next", false, None).unwrap(), None);
    }
}

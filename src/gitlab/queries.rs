//! The GraphQL operations rolly sends and the conversion of their answers.
//!
//! `graphql_client` generates request and response types from `graphql/*.graphql`
//! checked against `graphql/schema.graphql`. Those generated types stay in this module:
//! the client sees variables it can build and plain records ([`Epic`], [`IssueRef`]).
//! Sending, retries and HTTP errors are the client's job.

use graphql_client::GraphQLQuery;

use super::error::Error;
use super::wire::FieldError;
use super::{IssueRef, ItemQuery, LabelFilter};
use crate::model::epic::{Child, Epic, EpicState, HealthStatus, ItemKind, Person, Progress};

// Custom scalars of the GitLab schema, as the generated code names them. Dates and
// times become chrono types; GitLab sends ISO 8601 (`2024-05-01T09:30:00Z`, `2024-05-31`).
type WorkItemID = String;
// Only named by the `or` filter's custom field input, which rolly leaves empty.
type IssuablesCustomFieldID = String;
type IssuablesCustomFieldSelectOptionID = String;
type Time = chrono::DateTime<chrono::Utc>;
type Date = chrono::NaiveDate;

/// One page of a program's roll-up items (epics or issues) as work items.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/schema.graphql",
    query_path = "graphql/items.graphql",
    variables_derives = "Debug",
    response_derives = "Debug"
)]
pub(super) struct ItemsPage;

/// Labels of a group (with ancestors and descendants) whose title contains a term.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/schema.graphql",
    query_path = "graphql/labels.graphql",
    variables_derives = "Debug",
    response_derives = "Debug"
)]
pub(super) struct GroupLabels;

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

/// Names GitLab gives work item types in `workItemType` and `rolledUpCountsByType`.
const ISSUE_TYPE_NAME: &str = "Issue";
const TASK_TYPE_NAME: &str = "Task";

/// A page of results and the cursor of the next one (`None` on the last page).
#[derive(Debug)]
pub(super) struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Variables for one page of items after `cursor`: open ones only unless closed ones
/// are wanted, with the labels the client resolved.
pub(super) fn items_variables(
    query: &ItemQuery,
    labels: &LabelFilter,
    size: u32,
    cursor: Option<String>,
) -> items_page::Variables {
    let state = if query.include_closed {
        items_page::IssuableState::all
    } else {
        items_page::IssuableState::opened
    };
    let types = query
        .types
        .iter()
        .map(|kind| match kind {
            ItemKind::Epic => items_page::IssueType::EPIC,
            ItemKind::Issue => items_page::IssueType::ISSUE,
        })
        .collect();
    items_page::Variables {
        group: query.group.clone(),
        types,
        include_descendants: query.reads_descendants(),
        state,
        label_name: (!labels.all.is_empty()).then(|| labels.all.clone()),
        or: labels
            .any
            .clone()
            .map(|titles| items_page::UnionedWorkItemFilterInput {
                assignee_usernames: None,
                author_usernames: None,
                label_names: Some(titles),
                custom_field: None,
            }),
        first: i64::from(size),
        after: cursor,
        with_phases: query.with_phases,
    }
}

/// One page of items as GitLab answered it.
#[derive(Debug)]
pub(super) struct ItemsPageRead {
    pub items: Vec<Epic>,
    /// GitLab's reasons for items it returned as errors only.
    pub not_read: Vec<String>,
    /// Errors GitLab sent that name no item.
    pub other_errors: Vec<String>,
    pub next_cursor: Option<String>,
}

/// One page of items, or [`Error::GroupNotFound`] when GitLab answered `group: null`.
/// `errors` are those GitLab sent beside the data: an item whose fields errored keeps
/// what was read and carries the reason.
pub(super) fn items_page(
    data: items_page::ResponseData,
    group: &str,
    errors: &[FieldError],
) -> Result<ItemsPageRead, Error> {
    let group_data = data.group.ok_or_else(|| Error::GroupNotFound {
        path: group.to_owned(),
    })?;
    let work_items = group_data
        .work_items
        .ok_or_else(|| Error::UnexpectedAnswer {
            operation: "items",
            detail: format!(
                "GitLab returned no work items for group {group}{}",
                if errors.is_empty() {
                    "; the work items API may be unavailable on this instance".to_owned()
                } else {
                    format!(" ({})", messages(errors.iter()))
                }
            ),
        })?;
    let info = work_items.page_info;
    let mut read = ItemsPageRead {
        items: Vec::new(),
        not_read: Vec::new(),
        other_errors: Vec::new(),
        next_cursor: cursor_to("items", "next", info.has_next_page, info.end_cursor)?,
    };
    let nodes = work_items.nodes.unwrap_or_default();
    let mut reasons: Vec<Vec<&FieldError>> = vec![Vec::new(); nodes.len()];
    for error in errors {
        match node_index(error) {
            Some(i) if i < nodes.len() => reasons[i].push(error),
            _ => read.other_errors.push(error.message.clone()),
        }
    }
    for (node, reasons) in nodes.into_iter().zip(reasons) {
        let reason = (!reasons.is_empty()).then(|| messages(reasons.into_iter()));
        match (node, reason) {
            (Some(node), reason) => {
                let mut item = item_from(node, group);
                item.unreadable = reason;
                read.items.push(item);
            }
            (None, Some(reason)) => read.not_read.push(reason),
            (None, None) => {}
        }
    }
    Ok(read)
}

/// The item an error's path points into: `["group", "workItems", "nodes", 12, ...]`.
fn node_index(error: &FieldError) -> Option<usize> {
    match error.path.as_slice() {
        [_, _, nodes, index, ..] if nodes == "nodes" => {
            index.as_u64().and_then(|i| usize::try_from(i).ok())
        }
        _ => None,
    }
}

fn messages<'a>(errors: impl Iterator<Item = &'a FieldError>) -> String {
    let all: Vec<&str> = errors.map(|e| e.message.trim()).collect();
    all.join("; ")
}

/// Variables for one page of the labels whose title contains `label`.
pub(super) fn labels_variables(
    group: &str,
    label: &str,
    cursor: Option<String>,
) -> group_labels::Variables {
    group_labels::Variables {
        group: group.to_owned(),
        search: label.to_owned(),
        after: cursor,
    }
}

/// One page of label titles, or [`Error::GroupNotFound`] for `group: null`.
pub(super) fn labels_page(
    data: group_labels::ResponseData,
    group: &str,
) -> Result<Page<String>, Error> {
    let group_data = data.group.ok_or_else(|| Error::GroupNotFound {
        path: group.to_owned(),
    })?;
    let Some(labels) = group_data.labels else {
        return Ok(Page {
            items: Vec::new(),
            next_cursor: None,
        });
    };
    let info = labels.page_info;
    Ok(Page {
        items: labels
            .nodes
            .unwrap_or_default()
            .into_iter()
            .flatten()
            .map(|l| l.title)
            .collect(),
        next_cursor: cursor_to("labels", "next", info.has_next_page, info.end_cursor)?,
    })
}

/// The cursor of the `towards` page (e.g. "next"), checking that GitLab gave one when it
/// said there is such a page.
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

type WorkItemNode = items_page::ItemsPageGroupWorkItemsNodes;
type Widget = items_page::ItemsPageGroupWorkItemsNodesWidgets;

/// Converts one work item; widgets the item lacks leave their fields empty.
fn item_from(node: WorkItemNode, group: &str) -> Epic {
    let kind = if node
        .work_item_type
        .name
        .eq_ignore_ascii_case(ISSUE_TYPE_NAME)
    {
        ItemKind::Issue
    } else {
        ItemKind::Epic
    };
    let mut epic = Epic {
        id: node.id,
        kind,
        iid: node.iid,
        title: node.title,
        web_url: node.web_url.unwrap_or_default(),
        state: match node.state {
            items_page::WorkItemState::CLOSED => EpicState::Closed,
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
        start_date: None,
        due_date: None,
        health_status: None,
        assignees: Vec::new(),
        progress: Progress::default(),
        unreadable: None,
        children: Vec::new(),
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
            epic.progress = progress_from(epic.kind, &w.rolled_up_counts_by_type);
            let children = w.children.and_then(|c| c.nodes).unwrap_or_default();
            // Child issues are no phases; only child epics are.
            epic.children = children
                .into_iter()
                .flatten()
                .filter(|c| !c.work_item_type.name.eq_ignore_ascii_case(ISSUE_TYPE_NAME))
                .map(child_from)
                .collect();
        }
        // `onlyTypes` keeps other widgets out; any that arrive carry nothing we read.
        _ => {}
    }
}

type ChildNode =
    items_page::ItemsPageGroupWorkItemsNodesWidgetsOnWorkItemWidgetHierarchyChildrenNodes;
type ChildWidget =
    items_page::ItemsPageGroupWorkItemsNodesWidgetsOnWorkItemWidgetHierarchyChildrenNodesWidgets;

fn child_from(node: ChildNode) -> Child {
    let mut child = Child {
        title: node.title,
        closed: matches!(node.state, items_page::WorkItemState::CLOSED),
        start_date: None,
        due_date: None,
        labels: Vec::new(),
    };
    for widget in node.widgets.unwrap_or_default() {
        match widget {
            ChildWidget::WorkItemWidgetStartAndDueDate(w) => {
                child.start_date = w.start_date;
                child.due_date = w.due_date;
            }
            ChildWidget::WorkItemWidgetLabels(w) => {
                let nodes = w.labels.and_then(|l| l.nodes).unwrap_or_default();
                child.labels = nodes.into_iter().flatten().map(|l| l.title).collect();
            }
            _ => {}
        }
    }
    child
}

type AssigneeNode =
    items_page::ItemsPageGroupWorkItemsNodesWidgetsOnWorkItemWidgetAssigneesAssigneesNodes;

fn person_from(user: AssigneeNode) -> Person {
    Person {
        username: user.username,
        name: user.name,
        // GitLab sends "" for users who keep their email private on some versions.
        public_email: user.public_email.filter(|email| !email.trim().is_empty()),
    }
}

fn health_from(status: items_page::HealthStatus) -> Option<HealthStatus> {
    match status {
        items_page::HealthStatus::onTrack => Some(HealthStatus::OnTrack),
        items_page::HealthStatus::needsAttention => Some(HealthStatus::NeedsAttention),
        items_page::HealthStatus::atRisk => Some(HealthStatus::AtRisk),
        items_page::HealthStatus::Other(_) => None,
    }
}

type CountsByType =
    items_page::ItemsPageGroupWorkItemsNodesWidgetsOnWorkItemWidgetHierarchyRolledUpCountsByType;

/// Child counts from the item's rolled-up counts (all descendants): issues of an epic,
/// tasks of an issue.
fn progress_from(kind: ItemKind, counts: &[CountsByType]) -> Progress {
    let count = |n: Option<i64>| u32::try_from(n.unwrap_or(0)).unwrap_or(0);
    let child_type = match kind {
        ItemKind::Epic => ISSUE_TYPE_NAME,
        ItemKind::Issue => TASK_TYPE_NAME,
    };
    counts
        .iter()
        .find(|c| c.work_item_type.name.eq_ignore_ascii_case(child_type))
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

pub(super) fn no_payload(operation: &'static str) -> Error {
    Error::UnexpectedAnswer {
        operation,
        detail: "GitLab answered without the mutation's result".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(
            progress_from(ItemKind::Epic, &rolled_up),
            Progress { open: 3, closed: 5 }
        );
        assert_eq!(
            progress_from(ItemKind::Issue, &rolled_up),
            Progress { open: 7, closed: 7 },
            "an issue's progress is its tasks"
        );
    }

    #[test]
    fn an_epic_without_child_issues_has_no_progress() {
        assert_eq!(
            progress_from(ItemKind::Epic, &[counts("Epic", 2, 0)]),
            Progress::default()
        );
    }

    #[test]
    fn an_error_names_the_item_its_path_points_into() {
        let error = |path: serde_json::Value| FieldError {
            message: "x".into(),
            path: serde_json::from_value(path).unwrap(),
        };
        assert_eq!(
            node_index(&error(serde_json::json!([
                "group",
                "workItems",
                "nodes",
                3,
                "widgets",
                1
            ]))),
            Some(3)
        );
        assert_eq!(
            node_index(&error(serde_json::json!(["group", "workItems"]))),
            None
        );
        assert_eq!(node_index(&error(serde_json::json!([]))), None);
    }

    #[test]
    fn a_next_page_without_cursor_is_an_unexpected_answer() {
        assert!(cursor_to("epics", "next", true, None).is_err());
        assert_eq!(cursor_to("epics", "next", false, None).unwrap(), None);
    }
}

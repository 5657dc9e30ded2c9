//! `FakeGitLab`: a local server that answers rolly's GraphQL operations from an
//! in-memory world of groups, epics, projects and issues.
//!
//! It parses each request body, dispatches on `operationName`, pages work items and
//! issues with `first` and `after` as GitLab's keyset connection does
//! ([`keyset_page`]), and filters the way GitLab does: `types`, `state`,
//! `includeDescendants`, `labelName` with AND, exact and case-sensitive, answering
//! nothing when a label title does not exist, and `or: { labelNames }` with OR. Label
//! search ignores case, as GitLab's does. It counts requests, records their variables,
//! checks the bearer token, and can be told to fail the next requests or to return an
//! item as a partial error.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The token the fake accepts.
pub const TOKEN: &str = "glpat-test-token";

/// GitLab's own page size cap.
const MAX_PAGE_SIZE: usize = 100;

/// An epic in the fake world; build with [`epic`] and the chained setters.
#[derive(Debug, Clone)]
pub struct FakeEpic {
    pub iid: u32,
    pub title: String,
    pub group: String,
    pub closed: bool,
    pub labels: Vec<String>,
    pub description: Option<String>,
    pub created_at: String,
    pub last_edited_at: Option<String>,
    pub start_date: Option<String>,
    pub due_date: Option<String>,
    pub health: Option<String>,
    pub assignees: Vec<(String, String, Option<String>)>,
    /// Child issues of an epic, child tasks of an issue: (open, closed).
    pub child_issues: (u32, u32),
    /// `EPIC` or `ISSUE`.
    pub kind: &'static str,
    /// GitLab answers the item's widgets as an error with this message.
    pub broken: Option<String>,
    /// GitLab answers the whole item as an error with this message (`null` node).
    pub vanished: Option<String>,
    /// Child epics: (title, closed, start date, due date).
    pub children: Vec<(String, bool, Option<String>, Option<String>)>,
}

/// An open epic titled `title`, with no labels, widgets empty, created 2024-01-01.
pub fn epic(title: &str) -> FakeEpic {
    FakeEpic {
        iid: 0,
        title: title.to_owned(),
        group: String::new(),
        closed: false,
        labels: Vec::new(),
        description: None,
        created_at: "2024-01-01T00:00:00Z".to_owned(),
        last_edited_at: None,
        start_date: None,
        due_date: None,
        health: None,
        assignees: Vec::new(),
        child_issues: (0, 0),
        kind: "EPIC",
        broken: None,
        vanished: None,
        children: Vec::new(),
    }
}

/// An open issue (a work item of type ISSUE) titled `title`; add it with
/// [`FakeGitLab::add_project_items`].
pub fn work_issue(title: &str) -> FakeEpic {
    FakeEpic {
        kind: "ISSUE",
        ..epic(title)
    }
}

impl FakeEpic {
    pub fn closed(mut self) -> Self {
        self.closed = true;
        self
    }
    pub fn labels(mut self, labels: &[&str]) -> Self {
        self.labels = labels.iter().map(|l| (*l).to_owned()).collect();
        self
    }
    pub fn description(mut self, text: &str) -> Self {
        self.description = Some(text.to_owned());
        self
    }
    pub fn created_at(mut self, time: &str) -> Self {
        self.created_at = time.to_owned();
        self
    }
    pub fn last_edited_at(mut self, time: &str) -> Self {
        self.last_edited_at = Some(time.to_owned());
        self
    }
    pub fn dates(mut self, start: &str, due: &str) -> Self {
        self.start_date = Some(start.to_owned());
        self.due_date = Some(due.to_owned());
        self
    }
    /// GitLab's enum value: `onTrack`, `needsAttention` or `atRisk`.
    pub fn health(mut self, status: &str) -> Self {
        self.health = Some(status.to_owned());
        self
    }
    pub fn assignee(mut self, username: &str, name: &str, public_email: Option<&str>) -> Self {
        self.assignees.push((
            username.to_owned(),
            name.to_owned(),
            public_email.map(str::to_owned),
        ));
        self
    }
    pub fn child_issues(mut self, open: u32, closed: u32) -> Self {
        self.child_issues = (open, closed);
        self
    }
    /// Adds a child epic.
    pub fn child(mut self, title: &str, closed: bool, start: &str, due: &str) -> Self {
        self.children.push((
            title.to_owned(),
            closed,
            Some(start.to_owned()),
            Some(due.to_owned()),
        ));
        self
    }
    /// GitLab fails to read the item's widgets, with `message`.
    pub fn broken(mut self, message: &str) -> Self {
        self.broken = Some(message.to_owned());
        self
    }
    /// GitLab fails to read the item at all, with `message`.
    pub fn vanished(mut self, message: &str) -> Self {
        self.vanished = Some(message.to_owned());
        self
    }
}

/// An issue in a fake project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeIssue {
    pub iid: u32,
    pub title: String,
    pub description: String,
    pub labels: Vec<String>,
    pub open: bool,
}

/// An existing issue numbered `iid` with `labels`; closed unless `open`.
pub fn issue(iid: u32, labels: &[&str], open: bool) -> FakeIssue {
    FakeIssue {
        iid,
        title: format!("Roll-up {iid}"),
        description: String::new(),
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        open,
    }
}

/// How the next request should fail.
#[derive(Debug, Clone)]
pub enum Failure {
    /// An HTTP status with a short HTML body, as a proxy would send.
    Status(u16),
    /// HTTP 429 with these headers (e.g. `Retry-After`).
    RateLimited(Vec<(&'static str, String)>),
    /// HTTP 200 with these GraphQL error messages and `data: null`.
    GraphQl(Vec<String>),
    /// The normal answer, sent only after this delay.
    Delay(Duration),
    /// HTTP 200 with a body that is not JSON, as a broken proxy might send.
    NotJson,
    /// HTTP 503 with GitLab's "Request timed out" error, as when its time limit cuts a
    /// query off.
    TimedOut,
}

#[derive(Default)]
struct World {
    base_url: String,
    username: String,
    groups: BTreeSet<String>,
    epics: Vec<FakeEpic>,
    projects: Vec<(String, Vec<FakeIssue>)>,
    failures: VecDeque<Failure>,
    /// Pages larger than this are refused as too complex, like GitLab's complexity limit.
    max_epics_page: Option<usize>,
    /// Groups whose epic pages are answered only after a delay.
    slow_groups: Vec<(String, Duration)>,
    /// Labels that exist besides those items carry.
    labels: BTreeSet<String>,
    /// Notes added to work items: (work item id, body).
    notes: Vec<(String, String)>,
    /// Public emails of users who are no assignee: username -> email.
    emails: Vec<(String, String)>,
    requests: Vec<(String, Value)>,
}

/// The running fake; dropped with the test.
pub struct FakeGitLab {
    server: MockServer,
    world: Arc<Mutex<World>>,
}

impl FakeGitLab {
    /// Starts an empty fake whose token belongs to `rolly-bot`.
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let world = Arc::new(Mutex::new(World {
            base_url: server.uri(),
            username: "rolly-bot".to_owned(),
            ..World::default()
        }));
        Mock::given(method("POST"))
            .and(path("/api/graphql"))
            .respond_with(Responder {
                world: Arc::clone(&world),
            })
            .mount(&server)
            .await;
        Self { server, world }
    }

    /// The instance URL to give the client (without `/api/graphql`).
    pub fn url(&self) -> url::Url {
        url::Url::parse(&self.server.uri()).unwrap()
    }

    /// Adds a group and its epics, numbering them from 1 in the order given.
    pub fn add_group(&self, path: &str, epics: Vec<FakeEpic>) {
        let mut world = self.world();
        world.groups.insert(path.to_owned());
        for mut e in epics {
            e.iid = world.epics.len() as u32 + 1;
            e.group = path.to_owned();
            world.epics.push(e);
        }
    }

    /// Adds work items (e.g. [`work_issue`]) of a project at `path` in the group above
    /// it, numbering them on from the epics.
    pub fn add_project_items(&self, path: &str, items: Vec<FakeEpic>) {
        let mut world = self.world();
        if let Some((group, _)) = path.rsplit_once('/') {
            world.groups.insert(group.to_owned());
        }
        for mut e in items {
            e.iid = world.epics.len() as u32 + 1;
            e.group = path.to_owned();
            world.epics.push(e);
        }
    }

    /// Makes labels exist in GitLab that no item carries.
    pub fn add_labels(&self, titles: &[&str]) {
        let mut world = self.world();
        world.labels.extend(titles.iter().map(|t| (*t).to_owned()));
    }

    /// Adds a project with existing issues.
    /// Changes the epics in place (a week passes: titles, labels, sections change).
    pub fn edit_epics(&self, edit: impl FnOnce(&mut Vec<FakeEpic>)) {
        edit(&mut self.world().epics);
    }

    pub fn add_project(&self, path: &str, issues: Vec<FakeIssue>) {
        self.world().projects.push((path.to_owned(), issues));
    }

    /// The issues of a project as they are now.
    pub fn issues(&self, project: &str) -> Vec<FakeIssue> {
        let world = self.world();
        let found = world.projects.iter().find(|(p, _)| p == project);
        found.map(|(_, issues)| issues.clone()).unwrap_or_default()
    }

    /// Makes the next `times` requests fail with `failure`.
    pub fn fail_next(&self, times: usize, failure: Failure) {
        let mut world = self.world();
        world.failures.extend(std::iter::repeat_n(failure, times));
    }

    /// Refuses epic pages larger than `size` with GitLab's complexity error.
    pub fn limit_epics_page_to(&self, size: usize) {
        self.world().max_epics_page = Some(size);
    }

    /// Answers every epic page of `group` only after `delay`.
    pub fn slow_group(&self, group: &str, delay: Duration) {
        self.world().slow_groups.push((group.to_owned(), delay));
    }

    /// Notes added to work items, as (work item id, body).
    pub fn notes(&self) -> Vec<(String, String)> {
        self.world().notes.clone()
    }

    /// Gives GitLab user `username` a public email.
    pub fn add_user_email(&self, username: &str, email: &str) {
        self.world()
            .emails
            .push((username.to_owned(), email.to_owned()));
    }

    /// The epics as they are now.
    pub fn epics(&self) -> Vec<FakeEpic> {
        self.world().epics.clone()
    }

    /// How many requests reached the fake.
    pub fn request_count(&self) -> usize {
        self.world().requests.len()
    }

    /// The variables of each request for `operation` (e.g. `CreateIssue`), in order.
    pub fn variables_of(&self, operation: &str) -> Vec<Value> {
        let world = self.world();
        let sent = world.requests.iter().filter(|(op, _)| op == operation);
        sent.map(|(_, variables)| variables.clone()).collect()
    }

    fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap()
    }
}

struct Responder {
    world: Arc<Mutex<World>>,
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut world = self.world.lock().unwrap();
        let body: Value = request.body_json().unwrap_or(Value::Null);
        let operation = body["operationName"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let variables = body["variables"].clone();
        world.requests.push((operation.clone(), variables.clone()));

        if !has_token(request) {
            return ResponseTemplate::new(401)
                .set_body_json(json!({"message": "401 Unauthorized"}));
        }
        let slow = world
            .slow_groups
            .iter()
            .find(|(group, _)| operation == "ItemsPage" && variables["group"] == group.as_str())
            .map(|(_, delay)| *delay);
        let delay = match world.failures.pop_front() {
            Some(Failure::Delay(delay)) => Some(delay),
            Some(failure) => return failure_response(failure),
            None => slow,
        };
        let answer = answer(&mut world, &operation, &variables);
        let response = ResponseTemplate::new(200).set_body_json(answer);
        match delay {
            Some(delay) => response.set_delay(delay),
            None => response,
        }
    }
}

fn has_token(request: &Request) -> bool {
    let header = request
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    header == Some(&format!("Bearer {TOKEN}"))
}

fn failure_response(failure: Failure) -> ResponseTemplate {
    match failure {
        Failure::Status(status) => ResponseTemplate::new(status).set_body_string(format!(
            "<html><body><h1>{status} Bad Gateway</h1></body></html>"
        )),
        Failure::RateLimited(headers) => {
            let mut response = ResponseTemplate::new(429).set_body_string("Retry later\n");
            for (name, value) in headers {
                response = response.insert_header(name, value.as_str());
            }
            response
        }
        Failure::GraphQl(messages) => ResponseTemplate::new(200).set_body_json(errors(&messages)),
        Failure::NotJson => ResponseTemplate::new(200).set_body_string("<html>maintenance</html>"),
        Failure::TimedOut => ResponseTemplate::new(503).set_body_json(errors(&[
            "Request timed out. Please try a less complex query or a smaller set of records."
                .to_owned(),
        ])),
        Failure::Delay(_) => unreachable!("delays are applied to the normal answer"),
    }
}

fn errors(messages: &[String]) -> Value {
    let list: Vec<Value> = messages.iter().map(|m| json!({"message": m})).collect();
    json!({"data": null, "errors": list})
}

fn answer(world: &mut World, operation: &str, variables: &Value) -> Value {
    match operation {
        "ItemsPage" => epics_page(world, variables),
        "GroupLabels" => group_labels(world, variables),
        "ItemForUpdate" => item_for_update(world, variables),
        "UpdateItem" => update_item(world, variables),
        "CreateNote" => create_note(world, variables),
        "UserEmail" => {
            let username = variables["username"].as_str().unwrap_or_default();
            let email = world
                .emails
                .iter()
                .find(|(u, _)| u == username)
                .map(|(_, e)| e.clone());
            json!({"data": {"user": email.map(|e| json!({"publicEmail": e}))}})
        }
        "CurrentUser" => json!({"data": {"currentUser": {"username": world.username}}}),
        "GroupExists" => {
            let path = variables["fullPath"].as_str().unwrap_or_default();
            let group = world
                .groups
                .contains(path)
                .then(|| json!({"fullPath": path}));
            json!({"data": {"group": group}})
        }
        "CreateIssue" => create_issue(world, variables),
        "OpenIssuesWithLabel" => open_issues(world, variables),
        "CloseIssue" => close_issue(world, variables),
        other => errors(&[format!("Unknown operation {other:?}")]),
    }
}

fn epics_page(world: &mut World, variables: &Value) -> Value {
    let group = variables["group"].as_str().unwrap_or_default();
    if !world.groups.contains(group) {
        return json!({"data": {"group": null}});
    }
    let size = variables["first"].as_u64().unwrap_or(100) as usize;
    if world.max_epics_page.is_some_and(|max| size > max) {
        return errors(&[format!(
            "Query has complexity of {}, which exceeds max complexity of 250",
            250 + size
        )]);
    }
    let mut matching: Vec<&FakeEpic> = world
        .epics
        .iter()
        .filter(|e| {
            in_group(
                e,
                group,
                variables["includeDescendants"].as_bool() == Some(true),
            )
        })
        .filter(|e| state_matches(e, variables["state"].as_str()))
        .filter(|e| {
            let types = variables["types"].as_array();
            types.is_none_or(|types| types.iter().any(|t| t == e.kind))
        })
        .collect();
    // CREATED_ASC: iids are given in the order epics are created.
    matching.sort_by_key(|e| e.iid);
    let matching = filter_by_label_names(world, matching, &variables["labelName"]);
    let matching = filter_by_any_label(matching, &variables["or"]["labelNames"]);
    let base = &world.base_url;
    let (page, page_info) = keyset_page(&matching, |i| u64::from(matching[i].iid), variables);
    let mut errors = Vec::new();
    let nodes: Vec<Value> = page
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let path = |tail: &[Value]| {
                let mut path = vec![json!("group"), json!("workItems"), json!("nodes"), json!(i)];
                path.extend_from_slice(tail);
                path
            };
            if let Some(message) = &e.vanished {
                errors.push(json!({"message": message, "path": path(&[])}));
                return Value::Null;
            }
            let mut node = epic_json(e, base);
            if variables["withPhases"] == true {
                node["widgets"][5]["children"] = children_json(e);
            }
            if let Some(message) = &e.broken {
                node["widgets"] = Value::Null;
                errors.push(json!({"message": message, "path": path(&[json!("widgets")])}));
            }
            node
        })
        .collect();
    let mut answer =
        json!({"data": {"group": {"workItems": {"pageInfo": page_info, "nodes": nodes}}}});
    if !errors.is_empty() {
        answer["errors"] = Value::Array(errors);
    }
    answer
}

/// Labels whose title contains `search` in any letter case, as GitLab's label search
/// finds them: those items carry and those added on their own.
fn group_labels(world: &World, variables: &Value) -> Value {
    let group = variables["group"].as_str().unwrap_or_default();
    if !world.groups.contains(group) {
        return json!({"data": {"group": null}});
    }
    let search = variables["search"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    let all: BTreeSet<&String> = world
        .epics
        .iter()
        .flat_map(|e| &e.labels)
        .chain(&world.labels)
        .collect();
    let nodes: Vec<Value> = all
        .into_iter()
        .filter(|t| t.to_lowercase().contains(&search))
        .map(|t| json!({"title": t}))
        .collect();
    json!({"data": {"group": {"labels": {
        "pageInfo": {"hasNextPage": false, "endCursor": null},
        "nodes": nodes
    }}}})
}

/// The global id GitLab gives an epic of the fake.
pub fn item_id(e: &FakeEpic) -> String {
    format!("gid://gitlab/WorkItem/{}", 1000 + e.iid)
}

fn item_for_update(world: &World, variables: &Value) -> Value {
    let id = variables["id"].as_str().unwrap_or_default();
    let Some(e) = world.epics.iter().find(|e| item_id(e) == id) else {
        return json!({"data": {"workItem": null}});
    };
    let node = epic_json(e, &world.base_url);
    json!({"data": {"workItem": {
        "id": node["id"], "title": node["title"], "webUrl": node["webUrl"],
        "namespace": node["namespace"], "widgets": node["widgets"],
    }}})
}

fn update_item(world: &mut World, variables: &Value) -> Value {
    let id = variables["id"].as_str().unwrap_or_default();
    let Some(e) = world.epics.iter_mut().find(|e| item_id(e) == id) else {
        return no_access();
    };
    e.description = variables["description"].as_str().map(str::to_owned);
    if let Some(health) = variables["health"]["healthStatus"].as_str() {
        e.health = Some(health.to_owned());
    }
    json!({"data": {"workItemUpdate": {"errors": []}}})
}

fn create_note(world: &mut World, variables: &Value) -> Value {
    let id = variables["noteableId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let body = variables["body"].as_str().unwrap_or_default().to_owned();
    world.notes.push((id, body));
    json!({"data": {"createNote": {"errors": []}}})
}

/// GitLab's `or: { labelNames }`: an item must carry one of the titles.
fn filter_by_any_label<'a>(epics: Vec<&'a FakeEpic>, names: &Value) -> Vec<&'a FakeEpic> {
    let Some(names) = names.as_array() else {
        return epics;
    };
    epics
        .into_iter()
        .filter(|e| names.iter().any(|n| e.labels.iter().any(|l| l == n)))
        .collect()
}

fn in_group(epic: &FakeEpic, group: &str, include_subgroups: bool) -> bool {
    epic.group == group || (include_subgroups && epic.group.starts_with(&format!("{group}/")))
}

fn state_matches(epic: &FakeEpic, state: Option<&str>) -> bool {
    match state {
        Some("opened") => !epic.closed,
        Some("closed") => epic.closed,
        _ => true,
    }
}

/// GitLab's label filter: every title must exist exactly (case-sensitive), else nothing
/// matches; an epic must carry all of them.
fn filter_by_label_names<'a>(
    world: &World,
    epics: Vec<&'a FakeEpic>,
    names: &Value,
) -> Vec<&'a FakeEpic> {
    let Some(names) = names.as_array() else {
        return epics;
    };
    let names: Vec<&str> = names.iter().filter_map(Value::as_str).collect();
    let known = |name: &&str| {
        world.labels.iter().any(|l| l == name)
            || world
                .epics
                .iter()
                .any(|e| e.labels.iter().any(|l| l == name))
    };
    if !names.iter().all(known) {
        return Vec::new();
    }
    let carries_all = |e: &&FakeEpic| names.iter().all(|n| e.labels.iter().any(|l| l == n));
    epics.into_iter().filter(carries_all).collect()
}

/// One page of `items` as GitLab's keyset connection answers it: the first `first`
/// after `after`, in the items' order. `key(i)` is the sort key of the `i`-th item,
/// ascending; a cursor names the key of an item (`key:K`), so, as on GitLab, a page
/// read from a cursor starts at the same place when items before it were closed or added.
pub fn keyset_page<'a, T>(
    items: &'a [T],
    key: impl Fn(usize) -> u64,
    variables: &Value,
) -> (&'a [T], Value) {
    let after = variables["after"]
        .as_str()
        .and_then(|c| c.strip_prefix("key:"))
        .and_then(|k| k.parse::<u64>().ok());
    let keys: Vec<u64> = (0..items.len()).map(&key).collect();
    let start = after.map_or(0, |after| keys.partition_point(|&k| k <= after));
    let first = variables["first"]
        .as_u64()
        .map_or(MAX_PAGE_SIZE, |f| f as usize);
    let end = items.len().min(start + first.min(MAX_PAGE_SIZE));
    let info = json!({
        "hasNextPage": end < items.len(),
        "endCursor": (end > start).then(|| format!("key:{}", keys[end - 1])),
    });
    (&items[start..end], info)
}

/// `e` as GitLab's work item JSON in an `ItemsPage` answer; links start with `base`.
pub fn epic_json(e: &FakeEpic, base: &str) -> Value {
    let assignees: Vec<Value> = e
        .assignees
        .iter()
        .map(|(username, name, email)| json!({"username": username, "name": name, "publicEmail": email}))
        .collect();
    let labels: Vec<Value> = e.labels.iter().map(|l| json!({"title": l})).collect();
    let (open, closed) = e.child_issues;
    let (type_name, child_type, web_url) = match e.kind {
        "ISSUE" => (
            "Issue",
            "Task",
            format!("{base}/{}/-/issues/{}", e.group, e.iid),
        ),
        _ => (
            "Epic",
            "Issue",
            format!("{base}/groups/{}/-/epics/{}", e.group, e.iid),
        ),
    };
    json!({
        "id": format!("gid://gitlab/WorkItem/{}", 1000 + e.iid),
        "iid": e.iid.to_string(),
        "title": e.title,
        "webUrl": web_url,
        "state": if e.closed { "CLOSED" } else { "OPEN" },
        "createdAt": e.created_at,
        "workItemType": {"name": type_name},
        "namespace": {"fullPath": e.group},
        "widgets": [
            {"__typename": "WorkItemWidgetDescription", "description": e.description, "lastEditedAt": e.last_edited_at},
            {"__typename": "WorkItemWidgetLabels", "labels": {"nodes": labels}},
            {"__typename": "WorkItemWidgetAssignees", "assignees": {"nodes": assignees}},
            {"__typename": "WorkItemWidgetStartAndDueDate", "startDate": e.start_date, "dueDate": e.due_date},
            {"__typename": "WorkItemWidgetHealthStatus", "healthStatus": e.health},
            {"__typename": "WorkItemWidgetHierarchy", "rolledUpCountsByType": [
                {"workItemType": {"name": "Epic"}, "countsByState": {"opened": 1, "closed": 1, "all": 2}},
                {"workItemType": {"name": child_type}, "countsByState": {"opened": open, "closed": closed, "all": open + closed}}
            ]}
        ]
    })
}

/// The `children` connection of an epic's hierarchy widget.
fn children_json(e: &FakeEpic) -> Value {
    let nodes: Vec<Value> = e
        .children
        .iter()
        .map(|(title, closed, start, due)| {
            json!({
                "title": title,
                "state": if *closed { "CLOSED" } else { "OPEN" },
                "workItemType": {"name": "Epic"},
                "widgets": [
                    {"__typename": "WorkItemWidgetStartAndDueDate", "startDate": start, "dueDate": due},
                    {"__typename": "WorkItemWidgetLabels", "labels": {"nodes": []}},
                ],
            })
        })
        .collect();
    json!({"nodes": nodes})
}

fn project_mut<'a>(world: &'a mut World, path: &str) -> Option<&'a mut Vec<FakeIssue>> {
    let found = world.projects.iter_mut().find(|(p, _)| p == path);
    found.map(|(_, issues)| issues)
}

fn no_access() -> Value {
    errors(&[
        "The resource that you are attempting to access does not exist or you don't have \
              permission to perform this action"
            .to_owned(),
    ])
}

fn create_issue(world: &mut World, v: &Value) -> Value {
    let base = world.base_url.clone();
    let project = v["projectPath"].as_str().unwrap_or_default().to_owned();
    let Some(issues) = project_mut(world, &project) else {
        return no_access();
    };
    let title = v["title"].as_str().unwrap_or_default().to_owned();
    if title.is_empty() {
        return json!({"data": {"createIssue": {"issue": null, "errors": ["Title can't be blank"]}}});
    }
    let labels = v["labels"].as_array().into_iter().flatten();
    let issue = FakeIssue {
        iid: issues.iter().map(|i| i.iid).max().unwrap_or(0) + 1,
        title,
        description: v["description"].as_str().unwrap_or_default().to_owned(),
        labels: labels
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        open: true,
    };
    let created = json!({"iid": issue.iid.to_string(), "title": issue.title, "webUrl": format!("{base}/{project}/-/issues/{}", issue.iid)});
    issues.push(issue);
    json!({"data": {"createIssue": {"issue": created, "errors": []}}})
}

fn open_issues(world: &World, v: &Value) -> Value {
    let project = v["projectPath"].as_str().unwrap_or_default();
    let Some((_, issues)) = world.projects.iter().find(|(p, _)| p == project) else {
        return json!({"data": {"project": null}});
    };
    let label = v["label"].as_str().unwrap_or_default();
    let matching: Vec<&FakeIssue> = issues
        .iter()
        .filter(|i| i.open && i.labels.iter().any(|l| l == label))
        .collect();
    // The issue query names its `after` cursor `cursor`; issues keep the project's order.
    let asked = json!({"first": MAX_PAGE_SIZE, "after": v["cursor"]});
    let (page, page_info) = keyset_page(&matching, |i| i as u64, &asked);
    let base = &world.base_url;
    let nodes: Vec<Value> = page
        .iter()
        .map(|i| json!({"iid": i.iid.to_string(), "title": i.title, "webUrl": format!("{base}/{project}/-/issues/{}", i.iid)}))
        .collect();
    json!({"data": {"project": {"issues": {"pageInfo": page_info, "nodes": nodes}}}})
}

fn close_issue(world: &mut World, v: &Value) -> Value {
    let project = v["projectPath"].as_str().unwrap_or_default().to_owned();
    let iid = v["iid"].as_str().unwrap_or_default().to_owned();
    let issue = project_mut(world, &project)
        .and_then(|issues| issues.iter_mut().find(|i| i.iid.to_string() == iid));
    let Some(issue) = issue else {
        return no_access();
    };
    issue.open = false;
    json!({"data": {"updateIssue": {"issue": {"iid": iid, "state": "closed"}, "errors": []}}})
}

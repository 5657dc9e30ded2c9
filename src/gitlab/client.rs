//! [`GitLabClient`]: sends rolly's GraphQL operations to one GitLab instance.
//!
//! It owns the request timeout, retries, pagination, the mapping of HTTP and GraphQL
//! failures to [`Error`] and the program's epic filter. What is asked and how answers
//! become [`Epic`]s lives in `queries`; header and body details live in `wire`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use graphql_client::GraphQLQuery;
use reqwest::StatusCode;
use reqwest::header;
use secrecy::SecretString;
use serde_json::value::RawValue;
use url::Url;

use super::error::Error;
use super::queries;
use super::wire::{
    Answer, auth_headers, errors_to_error, excerpt, graphql_endpoint, parse_answer, record,
    requested_wait,
};
use super::{IssueRef, ItemQuery, ItemsRead, LabelFilter};
use crate::model::epic::{Epic, EpicState, ItemKind};
use crate::model::rollup::Notice;
use crate::retry::RetryPolicy;

/// Items asked for per page: GitLab's maximum. The selection stays well under the
/// complexity limit at this size; the reasoning is in `graphql/items.graphql`.
const ITEMS_PAGE_SIZE: u32 = 100;
/// Smallest page tried when GitLab still calls the query too complex or cuts it off.
const MIN_ITEMS_PAGE_SIZE: u32 = 10;
/// Longest answer read; a page of 100 epics with long descriptions is a few MiB.
const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// A GitLab GraphQL client; clones share one connection pool.
#[derive(Clone)]
pub struct GitLabClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    endpoint: Url,
    timeout: Duration,
    retry: RetryPolicy,
}

// By hand, so that no future field can print the token.
impl std::fmt::Debug for GitLabClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitLabClient")
            .field("endpoint", &self.inner.endpoint.as_str())
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

impl GitLabClient {
    /// A client for the instance at `base_url` (e.g. `https://gitlab.com`); requests go
    /// to `{base_url}/api/graphql` with `token` as bearer token.
    ///
    /// # Errors
    /// [`Error::Setup`] when the URL cannot take a path, or the token is empty or cannot
    /// be sent in an HTTP header.
    pub fn new(
        base_url: &Url,
        token: SecretString,
        timeout: Duration,
        retry: RetryPolicy,
    ) -> Result<Self, Error> {
        let endpoint = graphql_endpoint(base_url)?;
        let mut tls = crate::tls::client_config().map_err(|e| Error::Setup {
            reason: e.to_string(),
        })?;
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(timeout)
            .user_agent(concat!("rolly/", env!("CARGO_PKG_VERSION")))
            .default_headers(auth_headers(&token)?)
            .build()
            .map_err(|e| Error::Setup {
                reason: format!("the HTTP client could not be built ({e})"),
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                endpoint,
                timeout,
                retry,
            }),
        })
    }

    /// The username of the token's user.
    ///
    /// # Errors
    /// [`Error::Anonymous`] when GitLab treats the request as anonymous, plus the
    /// request errors of every call.
    pub async fn current_user(&self) -> Result<String, Error> {
        let data = self
            .execute::<queries::CurrentUser>("current_user", queries::current_user::Variables)
            .await?;
        queries::username(data).ok_or_else(|| Error::Anonymous {
            endpoint: self.inner.endpoint.to_string(),
        })
    }

    /// Whether the group exists and the token's user can see it.
    pub async fn group_exists(&self, full_path: &str) -> Result<bool, Error> {
        let variables = queries::group_exists::Variables {
            full_path: full_path.to_owned(),
        };
        let data = self
            .execute::<queries::GroupExists>("group", variables)
            .await?;
        Ok(queries::group_found(&data))
    }

    /// All items the program selects: open ones (unless `include_closed`) of its types,
    /// carrying every label of `query.labels` in any letter case, read page by page.
    ///
    /// The labels are first looked up in the group, so that GitLab filters with their
    /// exact titles and a program costs its own pages, not its group's. A label found
    /// nowhere reads nothing and says so in [`ItemsRead::notices`]; so does an item
    /// GitLab could not return.
    ///
    /// # Errors
    /// [`Error::GroupNotFound`] when the group is missing or hidden, plus the request
    /// errors of every call.
    pub async fn fetch_items(&self, query: &ItemQuery) -> Result<ItemsRead, Error> {
        let filter = match self.label_filter(query).await? {
            Ok(filter) => filter,
            Err(missing) => {
                return Ok(ItemsRead {
                    items: Vec::new(),
                    notices: missing
                        .into_iter()
                        .map(|label| Notice::LabelNotFound {
                            label,
                            group: query.group.clone(),
                        })
                        .collect(),
                });
            }
        };
        let mut read = ItemsRead::default();
        let mut size = ITEMS_PAGE_SIZE;
        let mut cursor: Option<String> = None;
        loop {
            let variables = queries::items_variables(query, &filter, size, cursor.clone());
            let shrinkable = size > MIN_ITEMS_PAGE_SIZE;
            // GitLab's time limit (a 503, "Request timed out", or fields answered with
            // "Timeout on ..."), our own request timeout and the complexity limit all say
            // the same: ask again for a smaller page.
            let slow = |e: &Error| e.is_timed_out() || matches!(e, Error::Timeout { .. });
            let answer = match self
                .execute_raw::<queries::ItemsPage>("items", variables, |e| shrinkable && slow(e))
                .await
            {
                Err(e) if shrinkable && (e.is_too_complex() || slow(&e)) => {
                    size = (size / 2).max(MIN_ITEMS_PAGE_SIZE);
                    tracing::warn!(group = %query.group, page_size = size, error = %e, "smaller item pages");
                    continue;
                }
                Ok(answer)
                    if shrinkable
                        && answer
                            .errors
                            .iter()
                            .any(|e| e.message.to_ascii_lowercase().contains("timeout")) =>
                {
                    size = (size / 2).max(MIN_ITEMS_PAGE_SIZE);
                    tracing::warn!(group = %query.group, page_size = size, "GitLab ran out of time on some fields; smaller item pages");
                    continue;
                }
                answer => answer?,
            };
            // A page of 100 items with long descriptions is megabytes of JSON: decoded
            // on the blocking pool, so other programs' requests go on meanwhile.
            let group = query.group.clone();
            let page = tokio::task::spawn_blocking(move || {
                decode::<queries::ItemsPage>("items", &answer.data)
                    .and_then(|data| queries::items_page(data, &group, &answer.errors))
            })
            .await
            .map_err(|e| Error::UnexpectedAnswer {
                operation: "items",
                detail: format!("decoding a page failed ({e})"),
            })??;
            for error in &page.other_errors {
                tracing::warn!(group = %query.group, error = %error, "GitLab reported an error beside the items it returned");
            }
            for reason in page.not_read {
                tracing::warn!(group = %query.group, reason = %reason, "GitLab could not return an item");
                read.notices.push(Notice::ItemNotRead { reason });
            }
            for item in page.items {
                if let Some(reason) = &item.unreadable {
                    tracing::warn!(group = %query.group, item = %item.web_url, reason = %reason, "some fields of an item could not be read");
                }
                if is_selected(query, &item) {
                    read.items.push(item);
                }
            }
            match page.next_cursor {
                Some(next) if cursor.as_ref() == Some(&next) => return Err(stuck_cursor()),
                Some(next) => cursor = Some(next),
                None => return Ok(read),
            }
        }
    }

    /// The server-side label filter of `query`, or the configured labels that exist
    /// nowhere in its group.
    async fn label_filter(
        &self,
        query: &ItemQuery,
    ) -> Result<Result<LabelFilter, Vec<String>>, Error> {
        let resolved = self.resolve_labels(&query.group, &query.labels).await?;
        let missing = missing(&resolved);
        if !missing.is_empty() {
            return Ok(Err(missing));
        }
        Ok(Ok(label_filter(
            resolved.into_iter().map(|(_, titles)| titles).collect(),
        )))
    }

    /// The labels of `labels` that exist nowhere in `group`, in any letter case: what
    /// `rolly check` warns about, since such a program's roll-up is always empty.
    ///
    /// # Errors
    /// [`Error::GroupNotFound`] when the group is missing or hidden, plus the request
    /// errors.
    pub async fn labels_found_nowhere(
        &self,
        group: &str,
        labels: &[String],
    ) -> Result<Vec<String>, Error> {
        Ok(missing(&self.resolve_labels(group, labels).await?))
    }

    /// Each configured label (once, whatever its letter case) with its exact titles in
    /// `group`; the labels are looked up side by side.
    async fn resolve_labels(
        &self,
        group: &str,
        labels: &[String],
    ) -> Result<Vec<(String, Vec<String>)>, Error> {
        let mut wanted: Vec<&str> = Vec::new();
        for label in labels {
            let label = label.trim();
            if !wanted.iter().any(|w| same_label(w, label)) {
                wanted.push(label);
            }
        }
        let found = futures::future::try_join_all(
            wanted.iter().map(|label| self.label_titles(group, label)),
        )
        .await?;
        Ok(wanted.into_iter().map(str::to_owned).zip(found).collect())
    }

    /// The exact titles of `label` (in any letter case) that items of `group` can carry.
    async fn label_titles(&self, group: &str, label: &str) -> Result<Vec<String>, Error> {
        let mut titles: Vec<String> = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let variables = queries::labels_variables(group, label, cursor.clone());
            let data = self
                .execute::<queries::GroupLabels>("labels", variables)
                .await?;
            let page = queries::labels_page(data, group)?;
            for title in page.items {
                if same_label(&title, label) && !titles.contains(&title) {
                    titles.push(title);
                }
            }
            match page.next_cursor {
                Some(next) if cursor.as_ref() == Some(&next) => return Err(stuck_cursor()),
                Some(next) => cursor = Some(next),
                None => return Ok(titles),
            }
        }
    }

    /// Creates an issue in `project` (full path) with the given labels (by title).
    ///
    /// # Errors
    /// [`Error::Rejected`] with GitLab's reasons when it refuses, plus the request errors.
    pub async fn create_issue(
        &self,
        project: &str,
        title: &str,
        description: &str,
        labels: &[String],
    ) -> Result<IssueRef, Error> {
        let variables = queries::create_issue::Variables {
            project_path: project.to_owned(),
            title: title.to_owned(),
            description: description.to_owned(),
            labels: labels.to_vec(),
        };
        let data = self
            .execute_write::<queries::CreateIssue>("create_issue", variables)
            .await?;
        queries::created_issue(data, project)
    }

    /// Open issues in `project` carrying `label`. GitLab matches the title exactly,
    /// which holds for the roll-up label rolly itself puts on its issues.
    ///
    /// # Errors
    /// [`Error::ProjectNotFound`] when the project is missing or hidden, plus the
    /// request errors.
    pub async fn open_issues_with_label(
        &self,
        project: &str,
        label: &str,
    ) -> Result<Vec<IssueRef>, Error> {
        let mut issues = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let variables = queries::open_issues_variables(project, label, cursor.clone());
            let data = self
                .execute::<queries::OpenIssuesWithLabel>("open_issues_with_label", variables)
                .await?;
            let page = queries::open_issues_page(data, project)?;
            issues.extend(page.items);
            match page.next_cursor {
                Some(next) if cursor.as_ref() == Some(&next) => return Err(stuck_cursor()),
                Some(next) => cursor = Some(next),
                None => return Ok(issues),
            }
        }
    }

    /// Closes issue `iid` of `project`.
    ///
    /// # Errors
    /// [`Error::Rejected`] with GitLab's reasons when it refuses, plus the request errors.
    pub async fn close_issue(&self, project: &str, iid: &str) -> Result<(), Error> {
        let variables = queries::close_issue::Variables {
            project_path: project.to_owned(),
            iid: iid.to_owned(),
        };
        let data = self
            .execute_write::<queries::CloseIssue>("close_issue", variables)
            .await?;
        queries::closed_issue(data, project, iid)
    }

    /// Sends one operation with retries and decodes its `data`; GraphQL errors beside
    /// the data fail it.
    pub(super) async fn execute<Q: GraphQLQuery>(
        &self,
        operation: &'static str,
        variables: Q::Variables,
    ) -> Result<Q::ResponseData, Error> {
        let answer = self
            .execute_raw::<Q>(operation, variables, |_| false)
            .await?;
        if !answer.errors.is_empty() {
            return Err(errors_to_error(operation, &self.endpoint(), &answer.errors));
        }
        decode::<Q>(operation, &answer.data)
    }

    /// Sends one write that must not happen twice: only a rate limit (nothing was done) is
    /// retried; after a timeout or a server error the write may have happened, so the
    /// failure is returned for the person to retry knowingly.
    pub(super) async fn execute_write<Q: GraphQLQuery>(
        &self,
        operation: &'static str,
        variables: Q::Variables,
    ) -> Result<Q::ResponseData, Error> {
        let answer = self
            .execute_raw::<Q>(operation, variables, |e| {
                !matches!(e, Error::RateLimited { .. })
            })
            .await?;
        if !answer.errors.is_empty() {
            return Err(errors_to_error(operation, &self.endpoint(), &answer.errors));
        }
        decode::<Q>(operation, &answer.data)
    }

    /// Sends one operation, retrying what is worth retrying unless `handled` says the
    /// caller will answer it; returns the answer undecoded.
    async fn execute_raw<Q: GraphQLQuery>(
        &self,
        operation: &'static str,
        variables: Q::Variables,
        handled: impl Fn(&Error) -> bool,
    ) -> Result<Answer, Error> {
        let body = serde_json::to_vec(&Q::build_query(variables)).map_err(|e| {
            Error::UnexpectedAnswer {
                operation,
                detail: format!("the request could not be encoded ({e})"),
            }
        })?;
        let retry = self.inner.retry;
        retry
            .run_unless(operation, handled, || self.attempt(operation, &body))
            .await
    }

    /// One HTTP request, logged and measured; returns the answer's `data`.
    async fn attempt(&self, operation: &'static str, body: &[u8]) -> Result<Answer, Error> {
        let started = Instant::now();
        let sent = self
            .inner
            .http
            .post(self.inner.endpoint.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.to_vec())
            .send()
            .await;
        let (status, result) = match sent {
            Ok(response) => (
                Some(response.status()),
                self.read_answer(operation, response).await,
            ),
            Err(e) => (None, Err(self.transport_error(&e))),
        };
        record(operation, status, started.elapsed(), &result);
        result
    }

    async fn read_answer(
        &self,
        operation: &'static str,
        response: reqwest::Response,
    ) -> Result<Answer, Error> {
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(Error::RateLimited {
                endpoint: self.endpoint(),
                retry_after: requested_wait(response.headers(), Utc::now()),
            });
        }
        if !status.is_success() {
            let body = self
                .read_body(operation, response)
                .await
                .unwrap_or_default();
            return Err(self.status_error(status, &body));
        }
        let body = self.read_body(operation, response).await?;
        parse_answer(operation, &self.endpoint(), &body)
    }

    /// The body, read in chunks so an oversized answer fails instead of filling memory.
    async fn read_body(
        &self,
        operation: &'static str,
        mut response: reqwest::Response,
    ) -> Result<Vec<u8>, Error> {
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(&e))?
        {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(Error::UnexpectedAnswer {
                    operation,
                    detail: format!("it is larger than {} MiB", MAX_ANSWER_BYTES >> 20),
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn status_error(&self, status: StatusCode, body: &[u8]) -> Error {
        let endpoint = self.endpoint();
        match status {
            StatusCode::UNAUTHORIZED => Error::Unauthorized { endpoint },
            StatusCode::FORBIDDEN => Error::Forbidden { endpoint },
            // GitLab answers 503 when its time limit cut the query off.
            StatusCode::SERVICE_UNAVAILABLE => Error::TimedOut {
                endpoint,
                detail: format!("HTTP 503: {}", excerpt(body)),
            },
            _ => Error::Http {
                endpoint,
                status: status.as_u16(),
                body: excerpt(body),
            },
        }
    }

    fn transport_error(&self, error: &reqwest::Error) -> Error {
        if error.is_timeout() {
            Error::Timeout {
                endpoint: self.endpoint(),
                timeout: self.inner.timeout,
            }
        } else {
            Error::Network {
                endpoint: self.endpoint(),
                detail: crate::errors::chain(error),
            }
        }
    }

    fn endpoint(&self) -> String {
        self.inner.endpoint.to_string()
    }
}

/// An operation's `data` in its generated type.
fn decode<Q: GraphQLQuery>(
    operation: &'static str,
    data: &RawValue,
) -> Result<Q::ResponseData, Error> {
    serde_json::from_str(data.get()).map_err(|e| Error::UnexpectedAnswer {
        operation,
        detail: format!("its data does not have the expected shape ({e})"),
    })
}

fn stuck_cursor() -> Error {
    Error::UnexpectedAnswer {
        operation: "pagination",
        detail: "GitLab returned the same page cursor twice".to_owned(),
    }
}

/// The server-side filter from each configured label's titles: labels with one
/// spelling must all be carried (`labelName`); the first label with several spellings
/// takes any of them (`or`). GraphQL has one `or` per query, so a second such label is
/// left to the client's check.
fn label_filter(found: Vec<Vec<String>>) -> LabelFilter {
    let mut filter = LabelFilter::default();
    for mut titles in found {
        match titles.len() {
            1 => filter.all.append(&mut titles),
            _ if filter.any.is_none() => filter.any = Some(titles),
            _ => {}
        }
    }
    filter
}

fn missing(resolved: &[(String, Vec<String>)]) -> Vec<String> {
    resolved
        .iter()
        .filter(|(_, titles)| titles.is_empty())
        .map(|(label, _)| label.clone())
        .collect()
}

fn same_label(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

/// The program's filter, applied to what GitLab returned: state, scope, then every
/// label in any letter case. GitLab filtered on the same titles already; this is the
/// safety net should an instance ignore a filter argument.
fn is_selected(query: &ItemQuery, item: &Epic) -> bool {
    (query.include_closed || item.state == EpicState::Open)
        && query.types.contains(&item.kind)
        && in_scope(query, item)
        // An item GitLab could not read in full may lack its labels; GitLab selected it by
        // them already.
        && (item.unreadable.is_some() || carries_all_labels(&item.labels, &query.labels))
}

/// Without subgroups: epics of the group itself, issues of its own projects.
fn in_scope(query: &ItemQuery, item: &Epic) -> bool {
    if query.include_subgroups {
        return true;
    }
    let parent = match item.kind {
        ItemKind::Epic => item.group_path.as_str(),
        ItemKind::Issue => item
            .group_path
            .rsplit_once('/')
            .map_or("", |(parent, _)| parent),
    };
    parent.eq_ignore_ascii_case(&query.group)
}

fn carries_all_labels(item_labels: &[String], wanted: &[String]) -> bool {
    wanted
        .iter()
        .all(|want| item_labels.iter().any(|have| same_label(have, want)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_spelling_is_required_and_several_are_any_of() {
        let found = vec![
            vec!["it-proj::crm".to_owned()],
            vec!["Build".to_owned(), "build".to_owned()],
            vec!["x".to_owned(), "X".to_owned()],
            vec!["it-status::wip".to_owned()],
        ];
        assert_eq!(
            label_filter(found),
            LabelFilter {
                all: vec!["it-proj::crm".to_owned(), "it-status::wip".to_owned()],
                any: Some(vec!["Build".to_owned(), "build".to_owned()]),
            }
        );
    }

    #[test]
    fn labels_match_in_any_letter_case_and_all_are_required() {
        let have = vec!["IT-Proj::CRM".to_owned(), "it-status::build".to_owned()];
        assert!(carries_all_labels(&have, &["it-proj::crm".to_owned()]));
        assert!(carries_all_labels(&have, &[]));
        assert!(!carries_all_labels(
            &have,
            &["it-proj::crm".to_owned(), "other".to_owned()]
        ));
    }
}

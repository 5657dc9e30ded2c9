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
    auth_headers, error_chain, excerpt, graphql_endpoint, parse_answer, record, requested_wait,
};
use super::{EpicQuery, IssueRef};
use crate::model::epic::{Epic, EpicState};
use crate::retry::RetryPolicy;

/// Epics asked for per page: GitLab's maximum. The selection stays well under the
/// complexity limit at this size; the reasoning is in `graphql/epics.graphql`.
const EPICS_PAGE_SIZE: u32 = 100;
/// Smallest page tried when GitLab still calls the query too complex.
const MIN_EPICS_PAGE_SIZE: u32 = 10;
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

    /// All epics the program selects: open ones (unless `include_closed`) carrying every
    /// label of `query.labels` in any letter case, read page by page.
    ///
    /// # Errors
    /// [`Error::GroupNotFound`] when the group is missing or hidden, plus the request
    /// errors of every call.
    pub async fn fetch_epics(&self, query: &EpicQuery) -> Result<Vec<Epic>, Error> {
        let mut epics = Vec::new();
        let mut size = EPICS_PAGE_SIZE;
        let mut cursor: Option<String> = None;
        loop {
            let variables = queries::epics_variables(query, size, cursor.clone());
            let data = match self
                .execute_raw::<queries::EpicsPage>("epics", variables)
                .await
            {
                Err(e) if e.is_too_complex() && size > MIN_EPICS_PAGE_SIZE => {
                    size = (size / 2).max(MIN_EPICS_PAGE_SIZE);
                    tracing::warn!(group = %query.group, page_size = size, error = %e, "smaller epic pages");
                    continue;
                }
                answer => answer?,
            };
            // A page of 100 epics with long descriptions is megabytes of JSON: decoded
            // on the blocking pool, so other programs' requests go on meanwhile.
            let group = query.group.clone();
            let page = tokio::task::spawn_blocking(move || {
                decode::<queries::EpicsPage>("epics", &data)
                    .and_then(|data| queries::epics_page(data, &group))
            })
            .await
            .map_err(|e| Error::UnexpectedAnswer {
                operation: "epics",
                detail: format!("decoding a page failed ({e})"),
            })??;
            epics.extend(page.items.into_iter().filter(|e| is_selected(query, e)));
            match page.next_cursor {
                Some(next) if cursor.as_ref() == Some(&next) => return Err(stuck_cursor()),
                Some(next) => cursor = Some(next),
                None => return Ok(epics),
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
            .execute::<queries::CreateIssue>("create_issue", variables)
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
            .execute::<queries::CloseIssue>("close_issue", variables)
            .await?;
        queries::closed_issue(data, project, iid)
    }

    /// Sends one operation with retries and decodes its `data`.
    async fn execute<Q: GraphQLQuery>(
        &self,
        operation: &'static str,
        variables: Q::Variables,
    ) -> Result<Q::ResponseData, Error> {
        let data = self.execute_raw::<Q>(operation, variables).await?;
        decode::<Q>(operation, &data)
    }

    /// Sends one operation with retries; returns its `data` undecoded.
    async fn execute_raw<Q: GraphQLQuery>(
        &self,
        operation: &'static str,
        variables: Q::Variables,
    ) -> Result<Box<RawValue>, Error> {
        let body = serde_json::to_vec(&Q::build_query(variables)).map_err(|e| {
            Error::UnexpectedAnswer {
                operation,
                detail: format!("the request could not be encoded ({e})"),
            }
        })?;
        let retry = self.inner.retry;
        retry
            .run(operation, || self.attempt(operation, &body))
            .await
    }

    /// One HTTP request, logged and measured; returns the answer's `data`.
    async fn attempt(&self, operation: &'static str, body: &[u8]) -> Result<Box<RawValue>, Error> {
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
    ) -> Result<Box<RawValue>, Error> {
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
        parse_answer(operation, &body)
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
                detail: error_chain(error),
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

/// The program's filter, applied to what GitLab returned: state, then every label in
/// any letter case.
///
/// Labels are not sent to GitLab (`labelName`): its label filter combines several
/// labels with AND but matches titles exactly and case-sensitively (`title IN (...)` in
/// PostgreSQL), and answers nothing at all when one title is not found ("Found less
/// labels in the DB than we were searching for. Return nothing.", `Issuables::LabelFilter`
/// in `app/finders/issuables/label_filter.rb` of gitlabhq/gitlabhq). A config saying
/// `it-proj::crm` would so drop every epic labelled `IT-Proj::CRM`. Reading the group's
/// open epics and filtering here costs a few more pages, once a week. Labels beyond the
/// first 100 of an epic are not read.
fn is_selected(query: &EpicQuery, epic: &Epic) -> bool {
    (query.include_closed || epic.state == EpicState::Open)
        && carries_all_labels(&epic.labels, &query.labels)
}

fn carries_all_labels(epic_labels: &[String], wanted: &[String]) -> bool {
    wanted.iter().all(|want| {
        let want = want.to_lowercase();
        epic_labels.iter().any(|have| have.to_lowercase() == want)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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

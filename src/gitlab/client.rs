//! [`GitLabClient`]: sends rolly's GraphQL operations to one GitLab instance.
//!
//! It owns the request timeout, retries, pagination, the mapping of HTTP and GraphQL
//! failures to [`Error`] and the program's epic filter. What is asked and how answers
//! become [`Epic`]s lives in `queries`; header and body details live in `wire`.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::Utc;
use graphql_client::GraphQLQuery;
use reqwest::StatusCode;
use reqwest::header;
use secrecy::SecretString;
use serde_json::value::RawValue;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::task::AbortOnDropHandle;
use tracing::Instrument;
use url::Url;

use super::error::Error;
use super::queries::{self, CursorAhead, Place};
use super::wire::{
    auth_headers, error_chain, excerpt, graphql_endpoint, parse_answer, record, requested_wait,
};
use crate::epic::{Epic, EpicState};
use crate::retry::RetryPolicy;

/// Epics asked for per page: GitLab's maximum. The selection stays well under the
/// complexity limit at this size; the reasoning is in `graphql/epics.graphql`.
const EPICS_PAGE_SIZE: u32 = 100;
/// Smallest page tried when GitLab still calls the query too complex.
const MIN_EPICS_PAGE_SIZE: u32 = 10;
/// Pages of epics decoded and prepared at once, each on a blocking thread.
const PAGES_IN_PREPARATION: usize = 2;
/// Front of an epics answer searched for the next page's cursor. GitLab sends it in the
/// first hundred bytes; an answer without it there is decoded whole first.
const CURSOR_AHEAD_BYTES: usize = 16 * 1024;
/// Longest answer read; a page of 100 epics with long descriptions is a few MiB.
const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// Which epics a program reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpicQuery {
    /// Full path of the group, e.g. `gitlab-com/business-technology`.
    pub group: String,
    /// Also read epics of subgroups.
    pub include_subgroups: bool,
    /// Labels an epic must all carry, compared without regard to letter case.
    pub labels: Vec<String>,
    /// Read closed epics too.
    pub include_closed: bool,
}

/// An issue that rolly created or found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRef {
    /// Internal id within its project, e.g. `17`.
    pub iid: String,
    pub title: String,
    /// Link to the issue.
    pub web_url: String,
}

/// A GitLab GraphQL client; clones share one connection pool and request counter.
#[derive(Clone)]
pub struct GitLabClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    endpoint: Url,
    timeout: Duration,
    retry: RetryPolicy,
    requests_sent: AtomicU64,
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
                requests_sent: AtomicU64::new(0),
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
        self.fetch_epics_with(query, |epics| epics).await
    }

    /// Like [`fetch_epics`](Self::fetch_epics), making `prepare` of each page's selected
    /// epics on the blocking pool while the next pages are fetched; returns what it made,
    /// in GitLab's order (oldest epic first).
    ///
    /// # Errors
    /// As [`fetch_epics`](Self::fetch_epics).
    pub async fn fetch_epics_with<T, F>(
        &self,
        query: &EpicQuery,
        prepare: F,
    ) -> Result<Vec<T>, Error>
    where
        T: Send + 'static,
        F: Fn(Vec<Epic>) -> Vec<T> + Send + Sync + 'static,
    {
        // A group's pages follow a cursor, one after another, so its round trips are
        // what a program's read costs. Two reads halve them: one from the first epic
        // forwards and one from the last backwards, side by side, until a page of one
        // holds an epic the other has read. Nothing else is added to a round trip: the
        // second pages are asked for as soon as the first answer's front names its
        // cursor, and pages are decoded (and prepared) on the blocking pool.
        let mut read = GroupRead::new(query, prepare);
        let mut forward = Walk::new(Place::After(None));
        let mut first = self.request_page(query, forward.size, forward.place.clone());
        let ahead = match (&mut first.cursor_ahead).await {
            Ok(cursor) => Some((
                self.request_page(query, forward.size, Place::After(Some(cursor))),
                self.request_page(query, EPICS_PAGE_SIZE, Place::Before(None)),
            )),
            Err(_) => None,
        };
        let (data, frame) = self.page_answer(query, &mut forward, first).await?;
        let read_already = read.claim(Side::Forward, frame.ids);
        read.prepare(Side::Forward, data, read_already).await?;
        let Some(next) = forward.next(frame.next)? else {
            return read.finish().await;
        };
        let mut backward = Walk::new(Place::Before(None));
        backward.size = forward.size;
        let (mut forward_page, mut backward_page) = match ahead {
            Some((after, before)) if after.place == next => (after, before),
            ahead => {
                // A head start the page's own frame disagrees with is cancelled.
                drop(ahead);
                (
                    self.request_page(query, forward.size, next),
                    self.request_page(query, backward.size, backward.place.clone()),
                )
            }
        };
        loop {
            let ((forward_data, forward_frame), (backward_data, backward_frame)) = tokio::try_join!(
                self.page_answer(query, &mut forward, forward_page),
                self.page_answer(query, &mut backward, backward_page),
            )?;
            // The forward page claims first: of an epic both pages hold, it keeps it.
            let forward_read_already = read.claim(Side::Forward, forward_frame.ids);
            let backward_read_already = read.claim(Side::Backward, backward_frame.ids);
            let met = !forward_read_already.is_empty() || !backward_read_already.is_empty();
            // A backward read that cannot go on (a stuck cursor too) is left to the
            // forward one below, like one that does not meet it.
            let previous = backward.previous(backward_frame.previous).ok().flatten();
            let pages = match forward.next(forward_frame.next)? {
                // A forward read that reached the end has every epic, whatever was
                // read backwards.
                None => None,
                Some(_) if met && read.met_soundly() => None,
                // The next pages are asked for before these two are handed over,
                // which may wait for older pages' preparation.
                Some(next) => match previous {
                    Some(previous) if !met => Some((
                        self.request_page(query, forward.size, next),
                        self.request_page(query, backward.size, previous),
                    )),
                    _ => {
                        // The reads met, but not as two reads of one order meet, or
                        // the backward one reached the start without meeting the
                        // forward one: GitLab did not page backwards as asked, or an
                        // epic at their edge changed between the two pages. Reading
                        // on forwards alone is slower and never misses an epic.
                        tracing::warn!(
                            group = %query.group,
                            "the epics read backwards do not meet those read forwards; reading the rest forwards"
                        );
                        let page = self.request_page(query, forward.size, next);
                        read.abandon_backward();
                        read.prepare(Side::Forward, forward_data, HashSet::new())
                            .await?;
                        return self.read_forwards(query, forward, page, read).await;
                    }
                },
            };
            read.prepare(Side::Forward, forward_data, forward_read_already)
                .await?;
            read.prepare(Side::Backward, backward_data, backward_read_already)
                .await?;
            match pages {
                Some(pages) => (forward_page, backward_page) = pages,
                None => break,
            }
        }
        read.finish().await
    }

    /// The rest of a group read forwards alone, one page after another, from `page` on.
    async fn read_forwards<T, F>(
        &self,
        query: &EpicQuery,
        mut forward: Walk,
        mut page: PageRequest,
        mut read: GroupRead<T, F>,
    ) -> Result<Vec<T>, Error>
    where
        T: Send + 'static,
        F: Fn(Vec<Epic>) -> Vec<T> + Send + Sync + 'static,
    {
        loop {
            let (data, frame) = self.page_answer(query, &mut forward, page).await?;
            let read_already = read.read_forwards_before(&frame.ids);
            // Cursors that lead back to pages read before would never reach the end.
            if !frame.ids.is_empty() && read_already.len() == frame.ids.len() {
                return Err(Error::UnexpectedAnswer {
                    operation: "pagination",
                    detail: "GitLab's next page cursor led back to epics read before".to_owned(),
                });
            }
            read.claim(Side::Forward, frame.ids);
            let next = forward.next(frame.next)?;
            let following = next.map(|next| self.request_page(query, forward.size, next));
            read.prepare(Side::Forward, data, read_already).await?;
            match following {
                Some(following) => page = following,
                None => return read.finish().await,
            }
        }
    }

    /// The answer to `page` of `walk` and its frame, asked again with smaller pages while
    /// GitLab calls the query too complex.
    async fn page_answer(
        &self,
        query: &EpicQuery,
        walk: &mut Walk,
        mut page: PageRequest,
    ) -> Result<(Box<RawValue>, queries::Frame), Error> {
        loop {
            match page.answer.await {
                Err(e) => {
                    return Err(Error::UnexpectedAnswer {
                        operation: "epics",
                        detail: format!("asking for a page failed ({e})"),
                    });
                }
                Ok(Err(e)) if e.is_too_complex() && walk.size > MIN_EPICS_PAGE_SIZE => {
                    walk.size = (walk.size / 2).max(MIN_EPICS_PAGE_SIZE);
                    tracing::warn!(group = %query.group, page_size = walk.size, error = %e, "smaller epic pages");
                    page = self.request_page(query, walk.size, page.place);
                }
                Ok(answer) => {
                    walk.place = page.place;
                    let data = answer?;
                    let frame = queries::epics_frame(data.get())?;
                    return Ok((data, frame));
                }
            }
        }
    }

    /// Asks for one page of epics on a task of its own.
    fn request_page(&self, query: &EpicQuery, size: u32, place: Place) -> PageRequest {
        let (found, cursor_ahead) = oneshot::channel();
        let variables = queries::epics_variables(query, size, &place);
        // Only a forward page tells its successor truly (see `queries::epics_frame`).
        let watch = matches!(place, Place::After(_)).then(|| CursorWatch(Mutex::new(Some(found))));
        let client = self.clone();
        let task = async move {
            client
                .execute_raw::<queries::EpicsPage>("epics", variables, watch.as_ref())
                .await
        };
        PageRequest {
            place,
            answer: AbortOnDropHandle::new(tokio::spawn(task.in_current_span())),
            cursor_ahead,
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

    /// HTTP requests this client (and its clones) sent, retries included.
    pub fn requests_sent(&self) -> u64 {
        self.inner.requests_sent.load(Ordering::Relaxed)
    }

    /// Sends one operation with retries and decodes its `data`.
    async fn execute<Q: GraphQLQuery>(
        &self,
        operation: &'static str,
        variables: Q::Variables,
    ) -> Result<Q::ResponseData, Error> {
        let data = self.execute_raw::<Q>(operation, variables, None).await?;
        decode::<Q>(operation, &data)
    }

    /// Sends one operation with retries; returns its `data` undecoded. `watch` looks at
    /// each answer while it arrives.
    async fn execute_raw<Q: GraphQLQuery>(
        &self,
        operation: &'static str,
        variables: Q::Variables,
        watch: Option<&CursorWatch>,
    ) -> Result<Box<RawValue>, Error> {
        let body = serde_json::to_vec(&Q::build_query(variables)).map_err(|e| {
            Error::UnexpectedAnswer {
                operation,
                detail: format!("the request could not be encoded ({e})"),
            }
        })?;
        let retry = self.inner.retry;
        retry
            .run(operation, || self.attempt(operation, &body, watch))
            .await
    }

    /// One HTTP request, logged and measured; returns the answer's `data`.
    async fn attempt(
        &self,
        operation: &'static str,
        body: &[u8],
        watch: Option<&CursorWatch>,
    ) -> Result<Box<RawValue>, Error> {
        self.inner.requests_sent.fetch_add(1, Ordering::Relaxed);
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
                self.read_answer(operation, response, watch).await,
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
        watch: Option<&CursorWatch>,
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
                .read_body(operation, response, None)
                .await
                .unwrap_or_default();
            return Err(self.status_error(status, &body));
        }
        let body = self.read_body(operation, response, watch).await?;
        parse_answer(operation, &body)
    }

    /// The body, read in chunks so an oversized answer fails instead of filling memory.
    async fn read_body(
        &self,
        operation: &'static str,
        mut response: reqwest::Response,
        watch: Option<&CursorWatch>,
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
            if let Some(watch) = watch {
                watch.look(&body);
            }
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

/// Which of a group's two reads a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// From the first epic forwards.
    Forward,
    /// From the last epic backwards.
    Backward,
}

/// One of a group's two reads: the place of its latest page and its page size.
struct Walk {
    place: Place,
    size: u32,
}

impl Walk {
    fn new(place: Place) -> Self {
        Self {
            place,
            size: EPICS_PAGE_SIZE,
        }
    }

    /// Where a forward read goes on after its latest page: `None` at the end.
    fn next(&self, next: Option<String>) -> Result<Option<Place>, Error> {
        self.go_on(next)
            .map(|cursor| cursor.map(|c| Place::After(Some(c))))
    }

    /// Where a backward read goes on after its latest page: `None` at the start.
    fn previous(&self, previous: Option<String>) -> Result<Option<Place>, Error> {
        self.go_on(previous)
            .map(|cursor| cursor.map(|c| Place::Before(Some(c))))
    }

    fn go_on(&self, cursor: Option<String>) -> Result<Option<String>, Error> {
        match cursor {
            Some(cursor) if self.place.cursor() == Some(cursor.as_str()) => Err(stuck_cursor()),
            cursor => Ok(cursor),
        }
    }
}

/// A group's pages as they are read from both ends, and what was made of them.
///
/// Each epic is kept by the first page taken that holds it. Since forward pages
/// cover a start of the order and backward pages an end, forward pages in reading
/// order followed by backward pages in reverse give every epic once, oldest first.
struct GroupRead<T, F> {
    query: Arc<EpicQuery>,
    prepare: Arc<F>,
    /// Pages being decoded and prepared, oldest first.
    preparing: VecDeque<(Side, Preparation<T>)>,
    forward: Vec<T>,
    /// Made of backward pages, in reading order (the last epics first).
    backward: Vec<Vec<T>>,
    read_forward: HashSet<String>,
    read_backward: HashSet<String>,
    /// The newest epic read forwards and the oldest read backwards, so far.
    forward_edge: Option<String>,
    backward_edge: Option<String>,
    /// Set when the forward read goes on alone: what the backward one made is dropped.
    backward_abandoned: bool,
}

impl<T, F> GroupRead<T, F>
where
    T: Send + 'static,
    F: Fn(Vec<Epic>) -> Vec<T> + Send + Sync + 'static,
{
    fn new(query: &EpicQuery, prepare: F) -> Self {
        Self {
            query: Arc::new(query.clone()),
            prepare: Arc::new(prepare),
            preparing: VecDeque::new(),
            forward: Vec::new(),
            backward: Vec::new(),
            read_forward: HashSet::new(),
            read_backward: HashSet::new(),
            forward_edge: None,
            backward_edge: None,
            backward_abandoned: false,
        }
    }

    /// Records that a page of `side` holds the work items `ids`; returns those the other
    /// side has read already. Any means the two reads have met.
    fn claim(&mut self, side: Side, ids: Vec<String>) -> HashSet<String> {
        let edge = match side {
            Side::Forward => ids.last(),
            Side::Backward => ids.first(),
        };
        if let Some(edge) = edge.cloned() {
            match side {
                Side::Forward => self.forward_edge = Some(edge),
                Side::Backward => self.backward_edge = Some(edge),
            }
        }
        let (own, other) = match side {
            Side::Forward => (&mut self.read_forward, &self.read_backward),
            Side::Backward => (&mut self.read_backward, &self.read_forward),
        };
        let read_already = ids
            .iter()
            .filter(|id| other.contains(*id))
            .cloned()
            .collect();
        own.extend(ids);
        read_already
    }

    /// Whether two reads that share epics cover the group between them. Two reads of
    /// one order that overlap each hold the other's outermost epic; anything else
    /// means GitLab did not read backwards as asked, and epics between the two reads
    /// would be missed.
    fn met_soundly(&self) -> bool {
        let holds = |read: &HashSet<String>, edge: &Option<String>| {
            edge.as_ref().is_some_and(|id| read.contains(id))
        };
        holds(&self.read_backward, &self.forward_edge)
            && holds(&self.read_forward, &self.backward_edge)
    }

    /// Leaves the rest to the forward read alone: what was read backwards is dropped,
    /// including pages still in preparation.
    fn abandon_backward(&mut self) {
        self.backward_abandoned = true;
        self.preparing.retain(|(side, _)| *side == Side::Forward);
        self.backward.clear();
        self.read_backward.clear();
        self.backward_edge = None;
    }

    /// Those of `ids` the forward read has read before.
    fn read_forwards_before(&self, ids: &[String]) -> HashSet<String> {
        let before = ids.iter().filter(|id| self.read_forward.contains(*id));
        before.cloned().collect()
    }

    /// Decodes and prepares a page of `side` on the blocking pool, without the epics
    /// in `read_already`.
    async fn prepare(
        &mut self,
        side: Side,
        data: Box<RawValue>,
        read_already: HashSet<String>,
    ) -> Result<(), Error> {
        // When pages come faster than they are prepared (a GitLab close by), the
        // oldest is waited for: pages held in memory and blocking threads stay few.
        if self.preparing.len() >= PAGES_IN_PREPARATION
            && let Some((side, oldest)) = self.preparing.pop_front()
        {
            self.keep(side, prepared(oldest).await?);
        }
        let query = Arc::clone(&self.query);
        let prepare = Arc::clone(&self.prepare);
        let page = tokio::task::spawn_blocking(move || {
            let epics = decode::<queries::EpicsPage>("epics", &data)
                .and_then(|data| queries::epics_page(data, &query.group))?;
            let selected = epics
                .into_iter()
                .filter(|e| !read_already.contains(&e.id) && is_selected(&query, e))
                .collect();
            Ok::<_, Error>(prepare(selected))
        });
        self.preparing.push_back((side, page));
        Ok(())
    }

    fn keep(&mut self, side: Side, made: Vec<T>) {
        match side {
            Side::Forward => self.forward.extend(made),
            Side::Backward if self.backward_abandoned => {}
            Side::Backward => self.backward.push(made),
        }
    }

    /// Everything made, oldest epic first, once every page is prepared.
    async fn finish(mut self) -> Result<Vec<T>, Error> {
        while let Some((side, page)) = self.preparing.pop_front() {
            self.keep(side, prepared(page).await?);
        }
        let mut made = self.forward;
        made.extend(self.backward.into_iter().rev().flatten());
        Ok(made)
    }
}

/// A page being decoded and prepared on the blocking pool.
type Preparation<T> = JoinHandle<Result<Vec<T>, Error>>;

/// What the blocking task of one page made of it.
async fn prepared<T>(page: Preparation<T>) -> Result<Vec<T>, Error> {
    page.await.map_err(|e| Error::UnexpectedAnswer {
        operation: "epics",
        detail: format!("decoding a page failed ({e})"),
    })?
}

fn stuck_cursor() -> Error {
    Error::UnexpectedAnswer {
        operation: "pagination",
        detail: "GitLab returned the same page cursor twice".to_owned(),
    }
}

/// One page of epics being asked for; dropping it cancels the request.
struct PageRequest {
    /// Where the page is read.
    place: Place,
    answer: AbortOnDropHandle<Result<Box<RawValue>, Error>>,
    /// The next page's cursor, sent as soon as the front of a forward answer shows it;
    /// closed without one when the answer does not show it early.
    cursor_ahead: oneshot::Receiver<String>,
}

/// Looks at the front of an `EpicsPage` answer while it arrives, for the next cursor.
struct CursorWatch(Mutex<Option<oneshot::Sender<String>>>);

impl CursorWatch {
    /// Takes a look at the answer's bytes received so far.
    fn look(&self, received: &[u8]) {
        let mut found = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if found.is_none() {
            return;
        }
        match queries::epics_cursor_ahead(received) {
            CursorAhead::Next(cursor) => {
                if let Some(found) = found.take() {
                    // The page loop may have stopped waiting; nothing is lost then.
                    let _ = found.send(cursor);
                }
            }
            CursorAhead::NotYet if received.len() < CURSOR_AHEAD_BYTES => {}
            CursorAhead::NotYet | CursorAhead::NoHeadStart => *found = None,
        }
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

    fn ids(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|id| (*id).to_owned()).collect()
    }

    #[tokio::test]
    async fn a_group_read_orders_both_reads_and_drops_an_abandoned_backward_one() {
        let query = EpicQuery {
            group: "g".to_owned(),
            include_subgroups: false,
            labels: Vec::new(),
            include_closed: false,
        };
        let new = || GroupRead::new(&query, |_: Vec<Epic>| Vec::<&str>::new());

        let mut read = new();
        assert!(read.claim(Side::Forward, ids(&["1", "2"])).is_empty());
        assert!(read.claim(Side::Backward, ids(&["5", "6"])).is_empty());
        let shared = read.claim(Side::Backward, ids(&["2", "3", "4"]));
        assert_eq!(shared, HashSet::from(["2".to_owned()]));
        assert!(read.met_soundly());
        read.keep(Side::Forward, vec!["1", "2"]);
        read.keep(Side::Backward, vec!["5", "6"]);
        read.keep(Side::Backward, vec!["3", "4"]);
        assert_eq!(read.finish().await.unwrap(), ["1", "2", "3", "4", "5", "6"]);

        // A backward read that overlaps without reaching the forward one's newest epic
        // did not read backwards: left to the forward read alone.
        let mut read = new();
        read.claim(Side::Forward, ids(&["1", "2", "3"]));
        read.claim(Side::Backward, ids(&["1", "2"]));
        assert!(!read.met_soundly());
        read.keep(Side::Forward, vec!["1", "2", "3"]);
        read.keep(Side::Backward, vec!["1", "2"]);
        // A backward page still in preparation no longer counts, failed or not.
        let broken = tokio::task::spawn_blocking(|| Err(stuck_cursor()));
        read.preparing.push_back((Side::Backward, broken));
        read.abandon_backward();
        read.keep(Side::Backward, vec!["9"]);
        assert!(read.claim(Side::Forward, ids(&["4"])).is_empty());
        let before = read.read_forwards_before(&ids(&["3", "5"]));
        assert_eq!(before, HashSet::from(["3".to_owned()]));
        read.keep(Side::Forward, vec!["4"]);
        assert_eq!(read.finish().await.unwrap(), ["1", "2", "3", "4"]);
    }

    #[test]
    fn a_read_given_back_the_cursor_it_read_from_is_stuck() {
        let walk = |place| Walk {
            place,
            size: EPICS_PAGE_SIZE,
        };
        let forward = walk(Place::After(Some("a".to_owned())));
        assert!(forward.next(Some("a".to_owned())).is_err());
        assert_eq!(
            forward.next(Some("b".to_owned())).unwrap(),
            Some(Place::After(Some("b".to_owned())))
        );
        assert_eq!(forward.next(None).unwrap(), None);
        let backward = walk(Place::Before(Some("z".to_owned())));
        assert!(backward.previous(Some("z".to_owned())).is_err());
        assert_eq!(
            backward.previous(Some("y".to_owned())).unwrap(),
            Some(Place::Before(Some("y".to_owned())))
        );
        // The first pages of either read start from no cursor.
        assert_eq!(
            walk(Place::Before(None))
                .previous(Some("y".to_owned()))
                .unwrap(),
            Some(Place::Before(Some("y".to_owned())))
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

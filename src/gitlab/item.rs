//! One work item read and written for a status update from Slack: read fresh by id,
//! its description replaced, a note added; and a user's public email.

use graphql_client::GraphQLQuery;

use super::client::GitLabClient;
use super::error::Error;
use super::queries::no_payload;
use crate::model::epic::HealthStatus;

type WorkItemID = String;
type NoteableID = String;

/// A work item by global id.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/schema.graphql",
    query_path = "graphql/item.graphql",
    variables_derives = "Debug",
    response_derives = "Debug"
)]
struct ItemForUpdate;

/// Replaces a work item's description and health.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/schema.graphql",
    query_path = "graphql/update_item.graphql",
    variables_derives = "Debug",
    response_derives = "Debug"
)]
struct UpdateItem;

/// Comments on a work item.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/schema.graphql",
    query_path = "graphql/create_note.graphql",
    variables_derives = "Debug",
    response_derives = "Debug"
)]
struct CreateNote;

/// A user's public email.
#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/schema.graphql",
    query_path = "graphql/user.graphql",
    variables_derives = "Debug",
    response_derives = "Debug"
)]
struct UserEmail;

/// A work item as a status update needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemToUpdate {
    /// Global id, e.g. `gid://gitlab/WorkItem/123`.
    pub id: String,
    pub title: String,
    pub web_url: String,
    /// Full path of the group or project it lives in.
    pub namespace: String,
    pub description: String,
    /// Assignees' usernames and public emails.
    pub assignees: Vec<(String, Option<String>)>,
    pub health: Option<HealthStatus>,
}

type Widget = item_for_update::ItemForUpdateWorkItemWidgets;

impl GitLabClient {
    /// The work item `id`, read fresh; `None` when it does not exist or the token's
    /// user cannot see it.
    ///
    /// # Errors
    /// The request errors.
    pub async fn item_to_update(&self, id: &str) -> Result<Option<ItemToUpdate>, Error> {
        let variables = item_for_update::Variables { id: id.to_owned() };
        let data = self.execute::<ItemForUpdate>("item", variables).await?;
        let Some(node) = data.work_item else {
            return Ok(None);
        };
        let mut item = ItemToUpdate {
            id: node.id,
            title: node.title,
            web_url: node.web_url.unwrap_or_default(),
            namespace: node.namespace.map(|n| n.full_path).unwrap_or_default(),
            description: String::new(),
            assignees: Vec::new(),
            health: None,
        };
        for widget in node.widgets.unwrap_or_default() {
            match widget {
                Widget::WorkItemWidgetDescription(w) => {
                    item.description = w.description.unwrap_or_default();
                }
                Widget::WorkItemWidgetAssignees(w) => {
                    let nodes = w.assignees.and_then(|a| a.nodes).unwrap_or_default();
                    item.assignees = nodes
                        .into_iter()
                        .flatten()
                        .map(|u| (u.username, u.public_email.filter(|e| !e.trim().is_empty())))
                        .collect();
                }
                Widget::WorkItemWidgetHealthStatus(w) => {
                    item.health = w.health_status.and_then(|h| match h {
                        item_for_update::HealthStatus::onTrack => Some(HealthStatus::OnTrack),
                        item_for_update::HealthStatus::needsAttention => {
                            Some(HealthStatus::NeedsAttention)
                        }
                        item_for_update::HealthStatus::atRisk => Some(HealthStatus::AtRisk),
                        item_for_update::HealthStatus::Other(_) => None,
                    });
                }
                _ => {}
            }
        }
        Ok(Some(item))
    }

    /// Replaces the description of work item `id` (and its health, when given).
    ///
    /// # Errors
    /// [`Error::Rejected`] with GitLab's reasons, plus the request errors.
    pub async fn update_item(
        &self,
        id: &str,
        description: &str,
        health: Option<HealthStatus>,
    ) -> Result<(), Error> {
        let variables = update_item::Variables {
            id: id.to_owned(),
            description: description.to_owned(),
            health: health.map(|h| update_item::WorkItemWidgetHealthStatusInput {
                health_status: Some(match h {
                    HealthStatus::OnTrack => update_item::HealthStatus::onTrack,
                    HealthStatus::NeedsAttention => update_item::HealthStatus::needsAttention,
                    HealthStatus::AtRisk => update_item::HealthStatus::atRisk,
                }),
            }),
        };
        let data = self
            .execute_write::<UpdateItem>("update_item", variables)
            .await?;
        let payload = data
            .work_item_update
            .ok_or_else(|| no_payload("update_item"))?;
        if payload.errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Rejected {
                action: format!("update the description of {id}"),
                messages: payload.errors,
            })
        }
    }

    /// Adds a note with `body` to work item `id`.
    ///
    /// # Errors
    /// [`Error::Rejected`] with GitLab's reasons, plus the request errors.
    pub async fn add_note(&self, id: &str, body: &str) -> Result<(), Error> {
        let variables = create_note::Variables {
            noteable_id: id.to_owned(),
            body: body.to_owned(),
        };
        let data = self
            .execute_write::<CreateNote>("create_note", variables)
            .await?;
        let payload = data.create_note.ok_or_else(|| no_payload("create_note"))?;
        if payload.errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Rejected {
                action: format!("add a note to {id}"),
                messages: payload.errors,
            })
        }
    }

    /// The public email of GitLab user `username`, if they show one.
    ///
    /// # Errors
    /// The request errors.
    pub async fn public_email(&self, username: &str) -> Result<Option<String>, Error> {
        let variables = user_email::Variables {
            username: username.to_owned(),
        };
        let data = self.execute::<UserEmail>("user", variables).await?;
        Ok(data
            .user
            .and_then(|u| u.public_email)
            .filter(|e| !e.trim().is_empty()))
    }
}

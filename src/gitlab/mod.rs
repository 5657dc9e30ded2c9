//! Reading epics from GitLab through the GraphQL work items API (placeholder until the
//! client lands).

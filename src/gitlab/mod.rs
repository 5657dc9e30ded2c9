//! Reading epics from GitLab through the GraphQL work items API.

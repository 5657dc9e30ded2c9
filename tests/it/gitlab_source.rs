//! The GitLab source against a fake GitLab.

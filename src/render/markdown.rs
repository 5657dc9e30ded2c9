//! GitLab markdown rendering of a roll-up.

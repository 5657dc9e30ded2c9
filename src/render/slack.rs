//! Block Kit rendering of a roll-up.

//! Errors shown with their causes: many clients' own messages stop at the kind
//! ("error sending request", "db error", "invalid connection string").

/// An error and its causes, e.g. `error sending request: connection refused`.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

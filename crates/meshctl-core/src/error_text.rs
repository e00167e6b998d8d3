//! Errors as one line of text.

/// An error and its causes on one line, `outer: cause: root`. Many errors (kube's, tera's, and
/// ours built with thiserror) show their source in their own message *and* return it from
/// `source()`: a cause whose text is already part of the line is left out, so each appears once.
/// Use this rather than `{:#}`, which repeats every such cause.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = String::new();
    let mut next = Some(error);
    while let Some(cause) = next {
        let cause_text = cause.to_string();
        if !cause_text.is_empty() && !text.contains(&cause_text) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&cause_text);
        }
        next = cause.source();
    }
    text
}

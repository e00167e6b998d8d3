//! Terminal prompts. Only called by the [`Printer`](super::Printer) once it has decided
//! that prompting is allowed.

/// Why a prompt could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error(
        "{question}: an answer is required but meshctl is not running interactively; pass {flag}"
    )]
    NotInteractive { question: String, flag: String },
    #[error("could not read the answer to '{question}': {source}")]
    Terminal {
        question: String,
        #[source]
        source: dialoguer::Error,
    },
}

pub(super) fn confirm(question: &str, default: bool) -> Result<bool, PromptError> {
    dialoguer::Confirm::new()
        .with_prompt(question)
        .default(default)
        .interact()
        .map_err(|source| PromptError::Terminal {
            question: question.to_string(),
            source,
        })
}

pub(super) fn password(question: &str) -> Result<String, PromptError> {
    dialoguer::Password::new()
        .with_prompt(question)
        .interact()
        .map_err(|source| PromptError::Terminal {
            question: question.to_string(),
            source,
        })
}

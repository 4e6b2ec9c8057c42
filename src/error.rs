//! One error type for the crate: every failure names what went wrong and where, so a corrupt
//! weight file or a wrong-sized image reaches the person as a sentence, never as a panic.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    /// A checkpoint file or folder could not be used; `file` names it.
    #[error("{file}: {problem}")]
    Checkpoint { file: String, problem: String },
    /// A model or scheduler configuration asks for something this crate does not implement
    /// or is internally inconsistent.
    #[error("config: {0}")]
    Config(String),
    /// Input arrays, images or settings that do not fit the model.
    #[error("input: {0}")]
    Input(String),
    /// The compute backend failed (device lost, a read-back failed).
    #[error("backend: {0}")]
    Backend(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The user stopped a long run; nothing computed so far is lost.
    #[error("cancelled")]
    Cancelled,
}

impl Error {
    pub fn checkpoint(file: impl Into<String>, problem: impl Into<String>) -> Self {
        Error::Checkpoint { file: file.into(), problem: problem.into() }
    }
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Error::Io { path: path.as_ref().display().to_string(), source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

//! Errors that stop a whole input (a module's own failure is a value in its
//! `ModuleOutput` instead). Each variant is a different thing the user does.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a supported input; spydar reads {known}")]
    Unsupported { path: PathBuf, known: &'static str },
    #[error("{path}: {reason}")]
    Input { path: PathBuf, reason: String },
    #[error("{path}: wrong password")]
    WrongPassword { path: PathBuf },
    #[error(
        "{path}: this backup is encrypted; give its password with --password-file or --password-env (or type it at the prompt)"
    )]
    PasswordRequired { path: PathBuf },
    #[error("{path}: truncated: {reason}")]
    Truncated { path: PathBuf, reason: String },
    #[error("indicators: {0}")]
    Indicators(String),
}

impl Error {
    pub fn input(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Input {
            path: path.into(),
            reason: reason.into(),
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

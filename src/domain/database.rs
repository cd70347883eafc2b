//! Which database a `database.url` names, and how to show one without its password.

/// The two databases Hearth can keep its store in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The database a URL names, by its scheme; `None` for anything else.
    pub fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

/// The URL with the password of its user part replaced by `***`, for messages and logs.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let Some((user_info, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    match user_info.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}{path}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_name_the_database() {
        assert_eq!(Backend::of_url("sqlite://hearth.db"), Some(Backend::Sqlite));
        assert_eq!(Backend::of_url("sqlite::memory:"), Some(Backend::Sqlite));
        assert_eq!(
            Backend::of_url("postgres://u@h/db"),
            Some(Backend::Postgres)
        );
        assert_eq!(
            Backend::of_url("postgresql://u@h/db"),
            Some(Backend::Postgres)
        );
        assert_eq!(Backend::of_url("mysql://u@h/db"), None);
        assert_eq!(Backend::of_url("hearth.db"), None);
    }

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redacted("postgres://hearth:s3cr:et@db.example:5432/hearth?sslmode=require"),
            "postgres://hearth:***@db.example:5432/hearth?sslmode=require"
        );
        assert_eq!(
            redacted("postgres://postgres@127.0.0.1/h"),
            "postgres://postgres@127.0.0.1/h"
        );
        assert_eq!(
            redacted("sqlite://data/hearth.db"),
            "sqlite://data/hearth.db"
        );
        assert_eq!(redacted("postgres://u:p@h"), "postgres://u:***@h");
    }
}

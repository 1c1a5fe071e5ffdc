//! What can go wrong at the database, said as what the caller does next.

/// A failure of the store. Every database error is classified explicitly by its SQLSTATE
/// (see [`kind_of_sqlstate`]) into one of three answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Another transaction changed what this one read (serialization failure, deadlock,
    /// a unique race, a version check that found another writer first): retry the whole
    /// transaction at once.
    #[error("conflict with a concurrent writer: {0}")]
    Conflict(String),
    /// The database cannot be reached, is starting or stopping, or is out of resources:
    /// wait, retry, acknowledge nothing.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database refused this input for good (a value it cannot hold, a constraint),
    /// or holds a row the engine cannot read: retrying changes nothing, so isolate what
    /// caused it and set it aside.
    #[error("the database refused it: {0}")]
    Defect(String),
}

/// The three answers, without the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Conflict,
    Unavailable,
    Defect,
}

impl StoreError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::Conflict(_) => ErrorKind::Conflict,
            StoreError::Unavailable(_) => ErrorKind::Unavailable,
            StoreError::Defect(_) => ErrorKind::Defect,
        }
    }
}

/// What a PostgreSQL error code means for the caller.
pub fn kind_of_sqlstate(code: &str) -> ErrorKind {
    match code {
        // serialization_failure, deadlock_detected, unique_violation (two writers raced
        // to insert the same key), lock_not_available.
        "40001" | "40P01" | "23505" | "55P03" => ErrorKind::Conflict,
        // admin_shutdown, crash_shutdown, cannot_connect_now, query_canceled (a statement
        // timeout), database_dropped.
        "57P01" | "57P02" | "57P03" | "57014" | "57P04" => ErrorKind::Unavailable,
        // Class 08 connection exception, 53 insufficient resources, 58 system error.
        _ if code.starts_with("08") || code.starts_with("53") || code.starts_with("58") => {
            ErrorKind::Unavailable
        }
        // Everything else is about what was sent: class 22 data exception (a NUL byte,
        // a value out of range), 23 integrity constraint, 42 syntax or access rule, 54
        // program limit (an index row too large), XX internal error.
        _ => ErrorKind::Defect,
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> StoreError {
        let message = err.to_string();
        let kind = match &err {
            sqlx::Error::Database(db) => match db.code() {
                Some(code) => kind_of_sqlstate(&code),
                None => ErrorKind::Defect,
            },
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => ErrorKind::Unavailable,
            // A row that cannot be read, a statement that does not fit the schema, or a
            // variant added to sqlx later: nothing a retry mends.
            _ => ErrorKind::Defect,
        };
        match kind {
            ErrorKind::Conflict => StoreError::Conflict(message),
            ErrorKind::Unavailable => StoreError::Unavailable(message),
            ErrorKind::Defect => StoreError::Defect(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_say_what_to_do_next() {
        let cases = [
            ("40001", ErrorKind::Conflict),
            ("40P01", ErrorKind::Conflict),
            ("23505", ErrorKind::Conflict),
            ("55P03", ErrorKind::Conflict),
            ("57P01", ErrorKind::Unavailable),
            ("57P03", ErrorKind::Unavailable),
            ("57014", ErrorKind::Unavailable),
            ("08006", ErrorKind::Unavailable),
            ("53300", ErrorKind::Unavailable),
            ("58030", ErrorKind::Unavailable),
            ("22021", ErrorKind::Defect),
            ("22P02", ErrorKind::Defect),
            ("23502", ErrorKind::Defect),
            ("23503", ErrorKind::Defect),
            ("42P01", ErrorKind::Defect),
            ("54000", ErrorKind::Defect),
            ("XX000", ErrorKind::Defect),
        ];
        for (code, kind) in cases {
            assert_eq!(kind_of_sqlstate(code), kind, "{code}");
        }
    }

    #[test]
    fn errors_without_a_code() {
        let cases = [
            (sqlx::Error::PoolTimedOut, ErrorKind::Unavailable),
            (sqlx::Error::PoolClosed, ErrorKind::Unavailable),
            (
                sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
                ErrorKind::Unavailable,
            ),
            (sqlx::Error::RowNotFound, ErrorKind::Defect),
            (
                sqlx::Error::ColumnNotFound("version".into()),
                ErrorKind::Defect,
            ),
        ];
        for (err, kind) in cases {
            let what = err.to_string();
            assert_eq!(StoreError::from(err).kind(), kind, "{what}");
        }
    }

    /// An error as the database sends it: a SQLSTATE (or none) and a message.
    #[derive(Debug)]
    struct FromTheDatabase(Option<&'static str>);

    impl std::fmt::Display for FromTheDatabase {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "sqlstate {:?}", self.0)
        }
    }

    impl std::error::Error for FromTheDatabase {}

    impl sqlx::error::DatabaseError for FromTheDatabase {
        fn message(&self) -> &str {
            "from the database"
        }
        fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
            self.0.map(std::borrow::Cow::Borrowed)
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    #[test]
    fn database_errors_are_classified_by_their_sqlstate() {
        // (SQLSTATE the database sent, what the caller does next)
        let cases = [
            (Some("40001"), ErrorKind::Conflict),
            (Some("23505"), ErrorKind::Conflict),
            (Some("57P01"), ErrorKind::Unavailable),
            (Some("08006"), ErrorKind::Unavailable),
            (Some("23502"), ErrorKind::Defect),
            (None, ErrorKind::Defect),
        ];
        for (code, kind) in cases {
            let err = sqlx::Error::Database(Box::new(FromTheDatabase(code)));
            assert_eq!(StoreError::from(err).kind(), kind, "{code:?}");
        }
    }
}

//! Helpers the HTTP side's unit tests share.

use crate::api::tokens::{Caller, Role};
use axum::response::Response;

/// A caller of `role` named `t`.
pub fn caller(role: Role) -> Caller {
    Caller {
        name: "t".into(),
        role,
    }
}

/// A response's body, as text.
pub async fn body_text(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

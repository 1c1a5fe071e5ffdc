//! One rule for every endpoint's parameters, from what each operation declares in the
//! OpenAPI document (docs/http-api.md, "Parameters"):
//! - a query parameter the operation does not declare is refused with 400;
//! - an empty value (`?department=`, `Idempotency-Key:` with nothing after it) is the same
//!   as leaving the parameter out, as an HTML form sends a field left blank (a value of
//!   spaces is a value, taken as sent, like every other);
//! - a `limit` past its maximum is capped, never refused
//!   ([`hotline_core::order_list::capped_limit`]).
//!
//! The handlers then see only declared, non-empty parameters, so that none of them can
//! apply a rule of its own.

use super::ApiError;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;
use utoipa::openapi::RefOr;
use utoipa::openapi::path::{Operation, ParameterIn};

/// What one operation declares.
#[derive(Debug, Default)]
struct Declared {
    query: BTreeSet<String>,
    headers: Vec<HeaderName>,
}

/// `(METHOD, /api/path/{template})` → what it declares.
static DECLARED: LazyLock<HashMap<(String, String), Declared>> = LazyLock::new(|| {
    let document = super::openapi::document();
    let mut declared = HashMap::new();
    for (path, item) in &document.paths.paths {
        let operations: [(&str, Option<&Operation>); 3] = [
            ("GET", item.get.as_ref()),
            ("HEAD", item.get.as_ref()),
            ("POST", item.post.as_ref()),
        ];
        for (method, operation) in operations {
            let Some(operation) = operation else { continue };
            let mut this = Declared::default();
            for parameter in operation.parameters.iter().flatten() {
                let RefOr::T(parameter) = parameter else {
                    continue;
                };
                match parameter.parameter_in {
                    ParameterIn::Query => {
                        this.query.insert(parameter.name.clone());
                    }
                    ParameterIn::Header => {
                        if let Ok(name) = HeaderName::try_from(parameter.name.to_lowercase()) {
                            this.headers.push(name);
                        }
                    }
                    ParameterIn::Path | ParameterIn::Cookie | ParameterIn::QueryString => {}
                }
            }
            declared.insert((method.to_owned(), path.clone()), this);
        }
    }
    declared
});

/// Applies the rule to a request routed to an `/api` operation (a layer of the routers
/// under `/api`, where the matched path is known).
pub async fn one_rule(mut request: Request, next: Next) -> Response {
    let Some(path) = request.extensions().get::<MatchedPath>() else {
        return next.run(request).await;
    };
    let key = (
        request.method().as_str().to_owned(),
        path.as_str().to_owned(),
    );
    let Some(declared) = DECLARED.get(&key) else {
        return next.run(request).await;
    };
    if let Some(query) = request.uri().query() {
        match declared_and_given(query, &declared.query) {
            Err(refused) => return refused.into_response(),
            Ok(kept) => {
                let mut parts = request.uri().clone().into_parts();
                let path = request.uri().path();
                let path_and_query = if kept.is_empty() {
                    path.to_owned()
                } else {
                    format!("{path}?{kept}")
                };
                parts.path_and_query = path_and_query.parse().ok();
                if let Ok(uri) = Uri::from_parts(parts) {
                    *request.uri_mut() = uri;
                }
            }
        }
    }
    for name in &declared.headers {
        let empty = request
            .headers()
            .get_all(name)
            .iter()
            .all(|value| value.as_bytes().trim_ascii().is_empty());
        if empty {
            request.headers_mut().remove(name);
        }
    }
    next.run(request).await
}

/// The query with its empty parameters left out, or the refusal of an undeclared one.
fn declared_and_given(query: &str, declared: &BTreeSet<String>) -> Result<String, ApiError> {
    let mut kept = form_urlencoded::Serializer::new(String::new());
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        if !declared.contains(name.as_ref()) {
            let known: Vec<&str> = declared.iter().map(String::as_str).collect();
            let shown: String = name.chars().take(40).collect();
            return Err(ApiError::bad_request(if known.is_empty() {
                format!("unknown parameter {shown:?}: this endpoint takes none")
            } else {
                format!(
                    "unknown parameter {shown:?} (this endpoint takes {})",
                    known.join(", ")
                )
            }));
        }
        if !value.is_empty() {
            kept.append_pair(&name, &value);
        }
    }
    Ok(kept.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undeclared_parameters_are_refused_and_empty_ones_left_out() {
        let declared: BTreeSet<String> = ["department", "level", "q"]
            .into_iter()
            .map(String::from)
            .collect();
        // (query, kept or refused)
        let cases = [
            ("department=SCJGJ", Ok("department=SCJGJ")),
            ("department=&level=", Ok("")),
            (
                "department=+&level=warning",
                Ok("department=+&level=warning"),
            ),
            ("q=%E9%A3%9F%E5%93%81", Ok("q=%E9%A3%9F%E5%93%81")),
            ("q=a+b", Ok("q=a+b")),
            ("x=1", Err("unknown parameter \"x\"")),
            ("department=1&x=", Err("unknown parameter \"x\"")),
        ];
        for (query, expected) in cases {
            match (declared_and_given(query, &declared), expected) {
                (Ok(kept), Ok(expected)) => assert_eq!(kept, expected, "{query}"),
                (Err(refused), Err(expected)) => {
                    assert!(
                        refused.message.starts_with(expected),
                        "{query}: {refused:?}"
                    )
                }
                (got, expected) => panic!("{query}: {got:?}, expected {expected:?}"),
            }
        }
        let none = declared_and_given("a=1", &BTreeSet::new()).unwrap_err();
        assert!(none.message.ends_with("this endpoint takes none"));
    }

    #[test]
    fn every_operation_of_the_document_is_known_with_its_parameters() {
        let alerts = &DECLARED[&("GET".to_owned(), "/api/alerts".to_owned())];
        assert!(alerts.query.contains("level") && alerts.query.contains("since"));
        let events = &DECLARED[&("POST".to_owned(), "/api/events".to_owned())];
        assert!(events.query.is_empty());
        assert_eq!(
            events.headers,
            vec![HeaderName::from_static("idempotency-key")]
        );
        let stream = &DECLARED[&("GET".to_owned(), "/api/alerts/stream".to_owned())];
        assert_eq!(
            stream.headers,
            vec![HeaderName::from_static("last-event-id")]
        );
    }
}

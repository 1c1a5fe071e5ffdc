//! `GET /api/openapi.json`: the OpenAPI 3.1 document of the API, generated from the code
//! that serves it. Each handler declares its operation with `#[utoipa::path]` (parameters,
//! every status it answers, the type of each body); the types it answers with derive
//! `ToSchema`; and the routers are built from those declarations (utoipa-axum's
//! `OpenApiRouter` and `routes!`, see [`super::routes`]), so that a route cannot be served
//! without being documented, nor documented without being served.
//!
//! The wire enums of `hotline_schema` (kinds, channels, states, levels, event types) are
//! described here from their `NAMES`, so that the schema crate stays free of OpenAPI: a
//! new variant appears in the document without anyone writing it twice.

use super::Api;
use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::borrow::Cow;
use std::sync::{Arc, LazyLock};
use utoipa::openapi::schema::{
    AdditionalProperties, KnownFormat, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi, RefOr};
// The derive's trait, for `Base::openapi()` (the name `OpenApi` is the document's type).
use utoipa::OpenApi as _;
use utoipa::{Modify, PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;

/// The names of the security schemes.
pub const BEARER: &str = "bearer";
pub const SESSION: &str = "session";
pub const CSRF: &str = "csrf";

/// A string schema whose values are `names`.
fn names_schema(names: &[&'static str], description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(names.iter().copied()))
        .description(Some(description))
        .into()
}

/// Declares a schema component for a wire enum of `hotline_schema` (or the core), from its
/// `NAMES`: `$name` is the marker type handlers name in `#[schema(value_type = …)]`, and
/// the component's name in the document.
macro_rules! wire_enum {
    ($($(#[doc = $doc:literal])+ $name:ident => $names:expr;)+) => {
        $(
            $(#[doc = $doc])+
            pub struct $name;

            impl PartialSchema for $name {
                fn schema() -> RefOr<Schema> {
                    names_schema($names, concat!($($doc),+).trim())
                }
            }

            impl ToSchema for $name {
                fn name() -> Cow<'static, str> {
                    Cow::Borrowed(stringify!($name))
                }
            }
        )+
    };
}

/// The wire enums, as schema components.
pub mod wire {
    use super::*;
    use hotline_schema::values;

    wire_enum! {
        /// What the citizen asks for (诉求类型).
        RequestKind => values::RequestKind::NAMES;
        /// Where the case came in.
        Channel => values::Channel::NAMES;
        /// How urgent the case is.
        Urgency => values::Urgency::NAMES;
        /// The callback team's rating (回访满意度).
        Rating => values::Rating::NAMES;
        /// Where a work order stands.
        OrderState => values::OrderState::NAMES;
        /// An order's SLA state, judged at `as_of` (see docs/http-api.md).
        SlaState => values::SlaState::NAMES;
        /// An SLA alert's level.
        AlertLevel => values::AlertLevel::NAMES;
        /// An event type of the contract (docs/contract.md).
        EventType => hotline_schema::event::EventType::NAMES;
        /// Why an event was not accepted (as in `hotline_events_rejected_total{reason}`).
        RejectCode => hotline_schema::rejection::RejectCode::NAMES;
        /// What kind of unit a department is.
        DepartmentKind => hotline_core::config::DepartmentKind::NAMES;
        /// A league-table mark: green, yellow or red.
        Colour => hotline_core::ranking::Colour::NAMES;
        /// How hard an order was urged (催办, 督办, 挂牌督办).
        UrgeLevel => hotline_schema::values::UrgeLevel::NAMES;
        /// What a handler's department is to an order: it holds it (`lead`, 主办) or
        /// co-handles it (`co`, 协办).
        TaskRole => hotline_schema::values::TaskRole::NAMES;
        /// The order list's sort: nearest deadline first, or newest first.
        SortOrder => hotline_core::order_list::OrderSort::NAMES;
    }

    /// The `type` an event was counted under: its event type, or `invalid` when the body's
    /// type could not be read.
    pub struct EventTypeLabel;

    impl PartialSchema for EventTypeLabel {
        fn schema() -> RefOr<Schema> {
            let mut names = hotline_schema::event::EventType::NAMES.to_vec();
            names.push(hotline_schema::event::INVALID_TYPE_LABEL);
            names_schema(
                &names,
                "The event's type, or `invalid` when the body's type could not be read.",
            )
        }
    }

    impl ToSchema for EventTypeLabel {}

    /// A timeline entry's type: an event type of the contract, or an entry the engine
    /// writes itself (a calendar change's recomputed deadlines, an attachment stored).
    pub struct TimelineType;

    impl PartialSchema for TimelineType {
        fn schema() -> RefOr<Schema> {
            let mut names = hotline_schema::event::EventType::NAMES.to_vec();
            names.push(hotline_core::replay::RECOMPUTED);
            names.push(hotline_core::attachment::ATTACHED);
            names_schema(
                &names,
                "An event type of the contract, or `sla.recomputed` (a calendar change moved \
                 the deadlines) or `attachment.added` (a file was attached) written by the engine.",
            )
        }
    }

    impl ToSchema for TimelineType {}
}

/// An error answer: `{"error": "<code>", "message": "<for a person>"}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// For programs: `unauthorized`, `forbidden`, `bad_request`, `not_found`, `too_large`,
    /// `bad_body`, `request_timeout`, `too_many_requests`, `method_not_allowed`,
    /// `unsupported_media_type`, `unavailable`.
    #[schema(example = "forbidden")]
    pub error: &'static str,
    /// For a person.
    pub message: String,
}

/// The answer to a request without a token, with an unknown or a revoked one.
#[derive(utoipa::ToResponse)]
#[response(
    description = "No token, an unknown or a revoked one (`unauthorized`)",
    headers(("WWW-Authenticate" = String, description = "`Bearer realm=\"hotline\"`"))
)]
#[allow(dead_code)] // Describes what `authenticate` answers; never built.
pub struct Unauthorized(ErrorBody);

/// The answer when the database did not answer in time, or too many requests are being
/// served at once.
#[derive(utoipa::ToResponse)]
#[response(
    description = "Retry later: the database did not answer, or too many requests are being \
        served at once (`unavailable`)",
    headers(("Retry-After" = String, description = "Seconds to wait"))
)]
#[allow(dead_code)] // Describes what `ApiError::database` and the load shedding answer.
pub struct Unavailable(ErrorBody);

/// The answer past a client's share (docs/RELIABILITY.md, "HTTP").
#[derive(utoipa::ToResponse)]
#[response(
    description = "Past this client's share: its token's or its address's rate, its streams \
        at once, or too many failed tokens from its address or for its token \
        (`too_many_requests`)",
    headers(("Retry-After" = String, description = "Seconds to wait"))
)]
#[allow(dead_code)] // Describes what the limits answer (`crate::limits`).
pub struct TooManyRequests(ErrorBody);

/// The answer to a request refused before its handler: its path or query, or its body.
#[derive(utoipa::ToResponse)]
#[response(
    description = "Refused before any handler saw it: a NUL or bytes that are not \
    UTF-8 in the path or query (400 `bad_request`), a body that did not arrive within 10 s \
    (408 `request_timeout`) or larger than the endpoint takes (413 `too_large`)"
)]
#[allow(dead_code)] // Describes what the edge and the limits answer.
pub struct Refused(ErrorBody);

/// A date (`2026-10-01`, midnight Asia/Shanghai) or an RFC 3339 instant: the bounds of a
/// period (`GET /api/kpis`'s `from` and `to`).
pub fn date_or_instant() -> Schema {
    utoipa::openapi::schema::OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
        )
        .into()
}

/// The envelope fields every event carries, as `properties` of an object schema.
fn envelope(required: bool) -> ObjectBuilder {
    let object = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "event_id",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
                .description(Some(
                    "The idempotency key: the same event_id has exactly one effect.",
                )),
        )
        .property(
            "type",
            RefOr::Ref(utoipa::openapi::Ref::from_schema_name("EventType")),
        )
        .property(
            "occurred_at",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
                .description(Some(
                    "RFC 3339 with an offset; business time is Asia/Shanghai.",
                )),
        )
        .property(
            "order_no",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[A-Za-z0-9_-]{1,64}$"))
                .description(Some(
                    "The work order's number, assigned by the call centre.",
                )),
        )
        .additional_properties(Some(AdditionalProperties::FreeForm(true)));
    if required {
        object
            .required("event_id")
            .required("type")
            .required("occurred_at")
            .required("order_no")
    } else {
        object
    }
}

/// The request body of `POST /api/events`: one event of the contract, exactly as on AMQP.
pub struct Event;

impl PartialSchema for Event {
    fn schema() -> RefOr<Schema> {
        envelope(true)
            .description(Some(
                "One inbound event of the contract: the envelope below plus the fields of its \
                 `type`, as listed in docs/contract.md (\"Inbound events\"). The engine \
                 validates the body itself: one it cannot accept is answered 422 and \
                 dead-lettered with its reason, as on AMQP.",
            ))
            .into()
    }
}

impl ToSchema for Event {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((wire::EventType::name().into(), wire::EventType::schema()));
    }
}

/// The request body of `POST /api/route-preview`: a draft `complaint.received`.
pub struct ComplaintDraft;

impl PartialSchema for ComplaintDraft {
    fn schema() -> RefOr<Schema> {
        envelope(false)
            .description(Some(
                "A `complaint.received` event as it would be posted (docs/contract.md, \
                 \"Inbound events\": kind, channel, category, district, address, urgency, \
                 title, content, citizen, …); `event_id`, `order_no`, `type` and \
                 `occurred_at` may be left out (`occurred_at` then means now).",
            ))
            .into()
    }
}

impl ToSchema for ComplaintDraft {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        Event::schemas(schemas);
    }
}

/// The body of `GET /api/openapi.json`.
pub struct OpenApiDocument;

impl PartialSchema for OpenApiDocument {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some("An OpenAPI 3.1 document: this one."))
            .property("openapi", ObjectBuilder::new().schema_type(Type::String))
            .required("openapi")
            .additional_properties(Some(AdditionalProperties::FreeForm(true)))
            .into()
    }
}

impl ToSchema for OpenApiDocument {}

/// What the document says about itself, its security schemes and its tags; the paths and
/// their schemas come from the routers.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "hotline API",
        description = "The HTTP API of the 12345 hotline engine, for the call centre's front \
            ends, department systems and the supervision office. Every call but this \
            document's needs `Authorization: Bearer <token>` (or a signed-in page's session \
            cookie); the token's role decides what it may see and do. Times are RFC 3339 in \
            business time (Asia/Shanghai). Written up in docs/http-api.md; the events are \
            those of docs/contract.md."
    ),
    components(
        schemas(ErrorBody),
        responses(Unauthorized, Unavailable, TooManyRequests, Refused)
    ),
    modifiers(&SecuritySchemes),
    security(("bearer" = []), ("session" = [])),
    tags(
        (name = "orders", description = "Work orders: one, the list, its CSV export"),
        (name = "events", description = "Inbound events, as on AMQP"),
        (name = "alerts", description = "SLA alerts: the list and the live stream"),
        (name = "kpis", description = "A period's figures"),
        (name = "catalog", description = "The configuration in force and routing previews"),
        (name = "accounts", description = "Who a token is"),
        (name = "meta", description = "This document"),
    )
)]
struct Base;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A token from `hotline token create` (or HOTLINE_API_TOKENS, \
                         HOTLINE_API_TOKENS_FILE). A missing, unknown or revoked token is \
                         answered 401 with `WWW-Authenticate: Bearer realm=\"hotline\"`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            SESSION,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                super::super::session::COOKIE,
                "The pages' session, set by signing in at /signin with a token. Any \
                 request but GET and HEAD must also carry the session's form token in \
                 X-CSRF-Token (scheme `csrf`), else 403.",
            ))),
        );
        components.add_security_scheme(
            CSRF,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-CSRF-Token",
                "The session's form token: sent with the session cookie on every request \
                 but GET and HEAD. Not needed with a bearer token.",
            ))),
        );
    }
}

/// The operation `GET /api/openapi.json`, answered without a token.
const SELF_PATH: &str = "/api/openapi.json";

/// The document of every route [`super::routes`] serves under `/api`. The routers are built
/// here only for what they declare: the body limit does not show in the document.
pub fn document() -> OpenApi {
    let endpoints = OpenApiRouter::<Arc<Api>>::new()
        .merge(super::answered_endpoints(0))
        .merge(super::streaming_endpoints())
        .merge(super::upload_endpoints())
        .merge(super::public_endpoints());
    let mut document = Base::openapi().nest("/api", endpoints.into_openapi());
    // `security(())` would say "optionally authenticated"; this one needs nothing at all.
    if let Some(get) = document
        .paths
        .paths
        .get_mut(SELF_PATH)
        .and_then(|item| item.get.as_mut())
    {
        get.security = Some(Vec::new());
    }
    every_operation_answers_the_edge(&mut document);
    parameters_follow_one_rule(&mut document);
    document
}

/// Says the rules every parameter follows in its schema: no string holds a NUL (refused
/// at the edge: the database cannot hold one), and an empty value of an optional query or
/// header parameter is taken as the parameter left out
/// ([`super::parameters::one_rule`]), so `""` is valid beside the values it takes.
fn parameters_follow_one_rule(document: &mut OpenApi) {
    use utoipa::openapi::Required;
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::schema::AnyOfBuilder;
    for operation in operations_mut(document) {
        for parameter in operation.parameters.iter_mut().flatten() {
            let RefOr::T(parameter) = parameter else {
                continue;
            };
            let optional = !matches!(parameter.required, Required::True);
            let applies = matches!(
                parameter.parameter_in,
                ParameterIn::Query | ParameterIn::Header
            );
            let Some(mut schema) = parameter.schema.take() else {
                continue;
            };
            // An optional header is absent, never `null`: a header has no null value.
            if let RefOr::T(Schema::Object(object)) = &mut schema
                && object.schema_type == SchemaType::from_iter([Type::String, Type::Null])
            {
                object.schema_type = SchemaType::new(Type::String);
            }
            no_nul(&mut schema);
            parameter.schema = Some(if optional && applies {
                let empty = ObjectBuilder::new()
                    .schema_type(Type::String)
                    .max_length(Some(0))
                    .description(Some("Empty: as if the parameter were left out."));
                AnyOfBuilder::new().item(schema).item(empty).into()
            } else {
                schema
            });
        }
    }
}

/// A free string schema (no format, enum or pattern of its own) says it holds no NUL.
fn no_nul(schema: &mut RefOr<Schema>) {
    match schema {
        RefOr::T(Schema::Object(object)) => {
            let a_string = object.schema_type == SchemaType::new(Type::String);
            if a_string
                && object.pattern.is_none()
                && object.enum_values.is_none()
                && object.format.is_none()
            {
                object.pattern = Some("^[^\\x00]*$".to_owned());
            }
        }
        RefOr::T(Schema::Array(array)) => {
            if let utoipa::openapi::schema::ArrayItems::RefOrSchema(items) = &mut array.items {
                no_nul(items);
            }
        }
        RefOr::T(Schema::AnyOf(any)) => any.items.iter_mut().for_each(no_nul),
        RefOr::T(Schema::OneOf(one)) => one.items.iter_mut().for_each(no_nul),
        _ => {}
    }
}

/// What any request may be answered before its handler sees it, added to every operation
/// that does not declare the status itself: 400, 408 and 413 from the edge and the body
/// read, 429 and 503 from the limits (docs/RELIABILITY.md, "HTTP").
fn every_operation_answers_the_edge(document: &mut OpenApi) {
    use utoipa::openapi::Ref;
    let edge = [
        ("400", "Refused"),
        ("408", "Refused"),
        ("413", "Refused"),
        ("429", "TooManyRequests"),
        ("503", "Unavailable"),
    ];
    for operation in operations_mut(document) {
        for (status, response) in edge {
            operation
                .responses
                .responses
                .entry(status.to_owned())
                .or_insert_with(|| {
                    RefOr::Ref(Ref::new(format!("#/components/responses/{response}")))
                });
        }
    }
}

/// Every operation of the document, whatever its method.
fn operations_mut(
    document: &mut OpenApi,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    document.paths.paths.values_mut().flat_map(|item| {
        [
            item.get.as_mut(),
            item.post.as_mut(),
            item.put.as_mut(),
            item.delete.as_mut(),
            item.patch.as_mut(),
        ]
        .into_iter()
        .flatten()
    })
}

/// The document as served, made once.
static DOCUMENT: LazyLock<Bytes> = LazyLock::new(|| {
    Bytes::from(
        document()
            .to_pretty_json()
            .expect("the OpenAPI document is JSON"),
    )
});

/// `GET /api/openapi.json`: needs no token (it names no order, no citizen, no secret).
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    summary = "This OpenAPI document",
    description = "The OpenAPI 3.1 document of every `/api` endpoint, generated from the \
        engine's own handlers and types. Needs no token.",
    responses(
        (status = 200, description = "The document", body = OpenApiDocument,
            content_type = "application/json"),
    ),
    security(()),
)]
pub async fn openapi_json() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        DOCUMENT.clone(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::collections::BTreeSet;

    /// `(method, path)` of every `/api` row of the endpoint table in docs/http-api.md.
    fn documented_endpoints() -> BTreeSet<(String, String)> {
        let docs = include_str!("../../../docs/http-api.md");
        docs.lines()
            .filter_map(|line| line.strip_prefix("| `"))
            .filter_map(|rest| rest.split_once('`'))
            .filter_map(|(endpoint, _)| endpoint.split_once(' '))
            .filter(|(_, path)| path.starts_with("/api/"))
            .map(|(method, path)| (method.to_owned(), path.to_owned()))
            .collect()
    }

    fn operations(document: &Value) -> BTreeSet<(String, String)> {
        let mut found = BTreeSet::new();
        for (path, item) in document["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("a path item").keys() {
                found.insert((method.to_uppercase(), path.clone()));
            }
        }
        found
    }

    fn served() -> Value {
        serde_json::from_slice(&DOCUMENT).expect("the document is JSON")
    }

    #[test]
    fn the_document_has_every_endpoint_of_the_docs_table_and_no_other() {
        let documented = documented_endpoints();
        assert!(
            documented.len() >= 11,
            "the docs table was read: {documented:?}"
        );
        assert_eq!(operations(&served()), documented);
    }

    #[test]
    fn every_operation_but_the_document_needs_a_token_and_says_401() {
        let document = served();
        assert_eq!(document["openapi"], "3.1.0");
        let global = &document["security"];
        assert_eq!(global, &serde_json::json!([{BEARER: []}, {SESSION: []}]));
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let security = operation.get("security").unwrap_or(global);
                if path == SELF_PATH {
                    assert_eq!(security, &serde_json::json!([]));
                    continue;
                }
                let bearer = security
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|requirement| requirement.get(BEARER).is_some());
                assert!(bearer, "{method} {path}: {security}");
                let responses = operation["responses"].as_object().unwrap();
                for status in ["401", "503"] {
                    assert!(responses.contains_key(status), "{method} {path}: {status}");
                }
                if method != "get" {
                    assert_eq!(
                        security,
                        &serde_json::json!([{BEARER: []}, {SESSION: [], CSRF: []}]),
                        "{method} {path}: the session needs its form token"
                    );
                }
            }
        }
    }

    #[test]
    fn every_reference_resolves_to_a_component() {
        let document = served();
        let text = document.to_string();
        let schemas = document["components"]["schemas"].as_object().unwrap();
        let responses = document["components"]["responses"].as_object().unwrap();
        for reference in text.split("\"$ref\":\"").skip(1) {
            let target = reference.split('"').next().unwrap();
            let found = match target.split_once("#/components/") {
                Some(("", rest)) => match rest.split_once('/') {
                    Some(("schemas", name)) => schemas.contains_key(name),
                    Some(("responses", name)) => responses.contains_key(name),
                    _ => false,
                },
                _ => false,
            };
            assert!(found, "{target} is not in the document");
        }
    }

    #[test]
    fn every_operation_answers_the_refusals_of_the_edge_and_the_limits() {
        let document = served();
        let refused = |status: &str| match status {
            "429" => "TooManyRequests",
            "503" => "Unavailable",
            _ => "Refused",
        };
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let responses = &operation["responses"];
                for status in ["400", "408", "413", "429", "503"] {
                    assert!(
                        responses.get(status).is_some(),
                        "{method} {path}: no {status}"
                    );
                }
                if path == SELF_PATH {
                    for status in ["400", "408", "413", "429", "503"] {
                        assert_eq!(
                            responses[status]["$ref"],
                            format!("#/components/responses/{}", refused(status)),
                            "{method} {path}: {status}"
                        );
                    }
                }
            }
        }
        // A status an operation declares itself keeps its own description.
        let alerts = &document["paths"]["/api/alerts"]["get"]["responses"];
        assert_eq!(
            alerts["400"]["description"],
            "A bad parameter (`bad_request`)"
        );
        assert_eq!(alerts["408"]["$ref"], "#/components/responses/Refused");
    }

    #[test]
    fn a_token_a_session_cookie_or_its_form_token_are_the_security_schemes() {
        let schemes = &served()["components"]["securitySchemes"];
        assert_eq!(schemes[BEARER]["type"], "http");
        assert_eq!(schemes[BEARER]["scheme"], "bearer");
        assert_eq!(schemes[SESSION]["type"], "apiKey");
        assert_eq!(schemes[SESSION]["in"], "cookie");
        assert_eq!(schemes[SESSION]["name"], crate::session::COOKIE);
        assert_eq!(schemes[CSRF]["type"], "apiKey");
        assert_eq!(schemes[CSRF]["in"], "header");
        assert_eq!(schemes[CSRF]["name"], "X-CSRF-Token");
        assert_eq!(schemes.as_object().unwrap().len(), 3);
    }

    #[test]
    fn an_event_body_requires_the_envelope_and_a_draft_does_not() {
        let document = served();
        let schemas = &document["components"]["schemas"];
        let envelope = ["event_id", "type", "occurred_at", "order_no"];
        for (name, required) in [("Event", true), ("ComplaintDraft", false)] {
            let schema = &schemas[name];
            assert_eq!(schema["type"], "object", "{name}");
            let properties: BTreeSet<&str> = schema["properties"]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(properties, BTreeSet::from(envelope), "{name}");
            assert_eq!(
                schema["properties"]["type"]["$ref"],
                "#/components/schemas/EventType"
            );
            assert_eq!(schema["properties"]["event_id"]["format"], "uuid");
            assert_eq!(schema["additionalProperties"], true, "{name}");
            let wanted = if required {
                serde_json::json!(envelope)
            } else {
                Value::Null
            };
            assert_eq!(schema["required"], wanted, "{name}");
        }
        // Each body brings the component it refers to.
        for schemas in [
            {
                let mut schemas = Vec::new();
                Event::schemas(&mut schemas);
                schemas
            },
            {
                let mut schemas = Vec::new();
                ComplaintDraft::schemas(&mut schemas);
                schemas
            },
        ] {
            let names: Vec<&str> = schemas.iter().map(|(name, _)| name.as_str()).collect();
            assert_eq!(names, ["EventType"]);
        }
    }

    #[test]
    fn a_period_bound_is_a_date_or_an_instant() {
        let document = served();
        let parameters = document["paths"]["/api/kpis"]["get"]["parameters"]
            .as_array()
            .unwrap();
        for name in ["from", "to"] {
            let parameter = parameters.iter().find(|p| p["name"] == name).unwrap();
            assert_eq!(
                parameter["schema"]["anyOf"][0],
                serde_json::json!({"oneOf": [
                    {"type": "string", "format": "date"},
                    {"type": "string", "format": "date-time"},
                ]}),
                "{name}"
            );
        }
    }

    #[test]
    fn a_free_string_says_it_holds_no_nul_wherever_it_is_nested() {
        use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder, OneOfBuilder};
        let free = || ObjectBuilder::new().schema_type(Type::String);
        let integer = || ObjectBuilder::new().schema_type(Type::Integer);
        let date = || {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
        };
        let no_nul_string = serde_json::json!({"type": "string", "pattern": "^[^\\x00]*$"});
        // (schema, the same after no_nul)
        let cases: Vec<(RefOr<Schema>, Value)> = vec![
            (free().into(), no_nul_string.clone()),
            (
                free().pattern(Some("^[a-z]+$")).into(),
                serde_json::json!({"type": "string", "pattern": "^[a-z]+$"}),
            ),
            (
                free().enum_values(Some(["a", "b"])).into(),
                serde_json::json!({"type": "string", "enum": ["a", "b"]}),
            ),
            (
                date().into(),
                serde_json::json!({"type": "string", "format": "date"}),
            ),
            (integer().into(), serde_json::json!({"type": "integer"})),
            (
                ArrayBuilder::new().items(free()).into(),
                serde_json::json!({"type": "array", "items": no_nul_string}),
            ),
            (
                AnyOfBuilder::new().item(free()).item(integer()).into(),
                serde_json::json!({"anyOf": [no_nul_string, {"type": "integer"}]}),
            ),
            (
                OneOfBuilder::new().item(free()).item(date()).into(),
                serde_json::json!({"oneOf": [
                    no_nul_string,
                    {"type": "string", "format": "date"},
                ]}),
            ),
            (
                RefOr::Ref(utoipa::openapi::Ref::from_schema_name("OrderState")),
                serde_json::json!({"$ref": "#/components/schemas/OrderState"}),
            ),
        ];
        for (mut schema, after) in cases {
            let before = serde_json::to_value(&schema).unwrap();
            no_nul(&mut schema);
            assert_eq!(serde_json::to_value(&schema).unwrap(), after, "{before}");
        }
    }

    #[test]
    fn an_optional_query_or_header_parameter_may_also_be_empty() {
        use utoipa::openapi::path::{
            HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
        };
        use utoipa::openapi::{OpenApiBuilder, PathsBuilder, Required};
        let parameter =
            |name: &str, place: ParameterIn, required: Required, schema: ObjectBuilder| {
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(place)
                    .required(required)
                    .schema(Some(schema))
            };
        let string = || ObjectBuilder::new().schema_type(Type::String);
        let operation = OperationBuilder::new()
            .parameter(parameter(
                "q",
                ParameterIn::Query,
                Required::False,
                string(),
            ))
            .parameter(parameter(
                "must",
                ParameterIn::Query,
                Required::True,
                string(),
            ))
            .parameter(parameter(
                "limit",
                ParameterIn::Query,
                Required::False,
                ObjectBuilder::new().schema_type(Type::Integer),
            ))
            .parameter(parameter(
                "Idempotency-Key",
                ParameterIn::Header,
                Required::False,
                ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::String, Type::Null])),
            ))
            .parameter(parameter(
                "order_no",
                ParameterIn::Path,
                Required::True,
                string(),
            ))
            .parameter(parameter(
                "c",
                ParameterIn::Cookie,
                Required::False,
                string(),
            ));
        let mut document = OpenApiBuilder::new()
            .paths(PathsBuilder::new().path("/x", PathItem::new(HttpMethod::Get, operation)))
            .build();
        parameters_follow_one_rule(&mut document);
        let document = serde_json::to_value(&document).unwrap();
        let no_nul = serde_json::json!({"type": "string", "pattern": "^[^\\x00]*$"});
        let or_empty = |schema: Value| {
            serde_json::json!({"anyOf": [schema, {
                "type": "string",
                "maxLength": 0,
                "description": "Empty: as if the parameter were left out.",
            }]})
        };
        // (parameter, its schema)
        let cases = [
            ("q", or_empty(no_nul.clone())),
            ("must", no_nul.clone()),
            ("limit", or_empty(serde_json::json!({"type": "integer"}))),
            ("Idempotency-Key", or_empty(no_nul.clone())),
            ("order_no", no_nul.clone()),
            ("c", no_nul.clone()),
        ];
        let parameters = document["paths"]["/x"]["get"]["parameters"]
            .as_array()
            .unwrap();
        assert_eq!(parameters.len(), cases.len());
        for (name, schema) in cases {
            let parameter = parameters.iter().find(|p| p["name"] == name).unwrap();
            assert_eq!(parameter["schema"], schema, "{name}");
        }
    }

    #[test]
    fn wire_enums_list_the_names_of_the_schema_crate() {
        let document = served();
        let schemas = &document["components"]["schemas"];
        assert_eq!(
            schemas["EventType"]["enum"],
            serde_json::json!(hotline_schema::event::EventType::NAMES)
        );
        assert_eq!(
            schemas["SlaState"]["enum"],
            serde_json::json!(hotline_schema::values::SlaState::NAMES)
        );
    }
}

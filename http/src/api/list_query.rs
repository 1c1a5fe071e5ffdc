//! The query parameters of the order list (`GET /api/orders`, `GET /api/orders.csv`) in
//! the API's document: the core's one list of them (`ListParameter`), each described, so
//! that what the document declares (and [`super::parameters::one_rule`] admits) is what
//! `ListRequest::parse` reads.

use hotline_core::order_list::Paging;
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn, ParameterStyle};
use utoipa::openapi::schema::{ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{Ref, RefOr, Required, Schema};

/// The query of `GET /api/orders` in the API's document: the core's one list of the
/// parameters (`ListParameter`), each described here (the core stays free of the
/// document's crate). The handlers read the same parameters with `ListRequest::parse`.
pub struct OrderListQuery;

/// The query of `GET /api/orders.csv`: the list's parameters without its pages.
pub struct ExportQuery;

impl IntoParams for OrderListQuery {
    fn into_params(parameter_in: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        list_parameters(Paging::Pages, parameter_in().unwrap_or(ParameterIn::Query))
    }
}

impl IntoParams for ExportQuery {
    fn into_params(parameter_in: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        list_parameters(Paging::Whole, parameter_in().unwrap_or(ParameterIn::Query))
    }
}

/// Free text: any characters but controls, at most 200.
const FREE_TEXT: &str = r"^[^\x00-\x1f\x7f-\x9f]*$";

/// Words separated by spaces, at most 8, no controls.
const WORDS: &str = r"^[^\S\x00-\x1f\x7f-\x9f]*(?:[^\s\x00-\x1f\x7f-\x9f]+[^\S\x00-\x1f\x7f-\x9f]+){0,7}[^\s\x00-\x1f\x7f-\x9f]*[^\S\x00-\x1f\x7f-\x9f]*$";

/// A phone as typed: 7 to 20 digits, with spaces, `+`, `-` and parentheses between.
const PHONE: &str = r"^[ +()\-]*(?:[0-9][ +()\-]*){7,20}$";

/// Every parameter the core takes with `paging`, in the core's order, described. The
/// match has no catch-all: a parameter added to the core does not build until it is
/// described here.
fn list_parameters(paging: Paging, parameter_in: ParameterIn) -> Vec<Parameter> {
    use hotline_core::order_list::ListParameter as P;
    let text = |pattern: &str| -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(200))
            .pattern(Some(pattern))
            .into()
    };
    let instant = || -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .into()
    };
    let list_of = |schema: &str| -> RefOr<Schema> {
        ArrayBuilder::new()
            .items(RefOr::Ref(Ref::from_schema_name(schema)))
            .into()
    };
    P::ALL
        .iter()
        .filter(|parameter| parameter.taken_with(paging))
        .map(|&parameter| {
            let (description, schema): (&str, RefOr<Schema>) = match parameter {
                P::Department => (
                    "The holding department's code. A handler gets the orders its department \
                     holds or co-handles without it (and without `co_department`), and 403 for \
                     another.",
                    text(FREE_TEXT),
                ),
                P::CoDepartment => (
                    "A department co-handling the order (协办). A handler may name its own \
                     only: the orders it co-handles.",
                    text(FREE_TEXT),
                ),
                P::State => (
                    "Any of these states, comma-separated (or the parameter repeated).",
                    list_of("OrderState"),
                ),
                P::SlaState => (
                    "Any of these SLA states (judged at `as_of`), comma-separated (or \
                     repeated).",
                    list_of("SlaState"),
                ),
                P::Matter => (
                    "The catalog matter code the order was recognised as (`matter_code`).",
                    text(FREE_TEXT),
                ),
                P::District => ("The district as received.", text(FREE_TEXT)),
                P::Urgency => (
                    "Any of these urgencies, comma-separated (or the parameter repeated).",
                    list_of("Urgency"),
                ),
                P::ReceivedFrom => (
                    "Received at or after this instant (RFC 3339 with offset; `+` is `%2B` \
                     in a URL).",
                    instant(),
                ),
                P::ReceivedTo => (
                    "Received before this instant (exclusive); must be after \
                     `received_from`.",
                    instant(),
                ),
                P::Q => (
                    "Words (separated by spaces) that must all occur in the title or the \
                     content, case-insensitively; at most 8 words, 200 characters.",
                    text(WORDS),
                ),
                P::Phone => (
                    "The citizen's phone: orders whose phone, as digits, is this one's (7 to \
                     20 digits; spaces, `+`, `-` and parentheses are ignored; at most 40 \
                     characters). Only the orders whose phone the caller sees in full: an \
                     operator's search leaves confidential cases out, a handler's finds the \
                     orders its department holds; a supervisor sees phones masked and is \
                     answered 403.",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .max_length(Some(hotline_core::order_list::MAX_PHONE_CHARS))
                        .pattern(Some(PHONE))
                        .into(),
                ),
                P::Total => (
                    "`true`: count the whole list (`total` in the answer), at the list's \
                     `as_of`. One more query, which reads every matching order.",
                    ObjectBuilder::new().schema_type(Type::Boolean).into(),
                ),
                P::Sort => (
                    "`next_due` (default: nearest deadline first) or `received` (newest \
                     first).",
                    RefOr::Ref(Ref::from_schema_name("SortOrder")),
                ),
                P::Limit => (
                    "Orders per page: default 50, at most 500 (larger values are capped).",
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                        .minimum(Some(1))
                        .into(),
                ),
                P::Next => (
                    "The `next` of the page before, as it was, with the same filters and \
                     sort.",
                    ObjectBuilder::new().schema_type(Type::String).into(),
                ),
            };
            let listed = matches!(parameter, P::State | P::SlaState | P::Urgency);
            ParameterBuilder::new()
                .name(parameter.as_str())
                .parameter_in(parameter_in.clone())
                .required(Required::False)
                .description(Some(description))
                .schema(Some(schema))
                .style(listed.then_some(ParameterStyle::Form))
                .explode(listed.then_some(false))
                .build()
        })
        .collect()
}

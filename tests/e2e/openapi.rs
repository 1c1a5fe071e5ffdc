//! `GET /api/openapi.json` from a running engine, checked by an independent validator (the
//! Python `openapi-spec-validator`, which `scripts/services --openapi` installs), and every
//! `/api` endpoint asked by every kind of caller over real HTTP: the status each pair gets
//! is the one docs/http-api.md gives, and each answer is one the document declares, its
//! JSON body valid against the declared schema.

use crate::support::{EngineProcess, TestEnv, complaint, now, wait_for};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

const OPERATOR: &str = "op-oas-token-0123456789";
const SUPERVISOR: &str = "sv-oas-token-0123456789";
/// A handler of SCJGJ, the department that holds the test's orders.
const HOLDER: &str = "sc-oas-token-0123456789";
/// A handler of YSBZX, which holds none of them.
const OTHER: &str = "yb-oas-token-0123456789";
/// A token no engine ever made.
const UNKNOWN: &str = "hl_this-token-was-never-created-0000000000";

async fn start(env: &TestEnv) -> EngineProcess {
    let tokens = format!(
        "{OPERATOR}:operator,{SUPERVISOR}:supervisor,{HOLDER}:handler:SCJGJ,{OTHER}:handler:YSBZX"
    );
    env.start_engine_with_env(&[("HOTLINE_API_TOKENS", &tokens)])
        .await
}

/// `(method, path)` of every `/api` row of the endpoint table in docs/http-api.md.
fn documented_endpoints() -> BTreeSet<(String, String)> {
    include_str!("../../docs/http-api.md")
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`'))
        .filter_map(|(endpoint, _)| endpoint.split_once(' '))
        .filter(|(_, path)| path.starts_with("/api/"))
        .map(|(method, path)| (method.to_lowercase(), path.to_owned()))
        .collect()
}

/// Runs a Python script with arguments; its output if it fails.
fn python(script: &str, args: &[&Path]) -> Result<(), String> {
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run python3 ({e}): run scripts/services --openapi"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// The validator's own command line on `file`: `python3 -m openapi_spec_validator`.
const VALIDATE_DOCUMENT: &str = "
import sys
try:
    import openapi_spec_validator
except ImportError:
    sys.exit('openapi-spec-validator is not installed: run scripts/services --openapi')
from openapi_spec_validator.__main__ import main
sys.exit(main([sys.argv[1]]))
";

/// Validates each sample `{"what", "schema", "body"}` of a JSON file against its schema, a
/// piece of the document (whose references are resolved in the document), as OpenAPI 3.1
/// defines schemas; prints every failure.
const VALIDATE_BODIES: &str = "
import json, sys
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from openapi_schema_validator import OAS31Validator
document = json.load(open(sys.argv[1]))
samples = json.load(open(sys.argv[2]))
document['x-samples'] = [sample['schema'] for sample in samples]
base = 'urn:hotline:openapi'
resource = Resource.from_contents(document, default_specification=DRAFT202012)
registry = Registry().with_resource(base, resource)
failed = 0
for i, sample in enumerate(samples):
    validator = OAS31Validator({'$ref': f'{base}#/x-samples/{i}'}, registry=registry)
    for error in validator.iter_errors(sample['body']):
        failed += 1
        path = '/'.join(str(p) for p in error.absolute_path)
        print(f\"{sample['what']}: at /{path}: {error.message}\")
print(f'{len(samples)} bodies checked, {failed} faults')
sys.exit(1 if failed else 0)
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_valid_openapi_3_1_and_covers_every_endpoint() {
    let env = TestEnv::new().await;
    let engine = start(&env).await;
    let http = reqwest::Client::new();
    let url = format!("{}/api/openapi.json", engine.base);

    // No token, or one nobody made: the document needs none.
    let response = http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let text = response.text().await.unwrap();
    let response = http.get(&url).bearer_auth(UNKNOWN).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), text, "the same document");
    let document: Value = serde_json::from_str(&text).expect("the document is JSON");

    let file = std::env::temp_dir().join(format!("hotline-{}-openapi.json", env.id));
    std::fs::write(&file, &text).unwrap();
    if let Err(output) = python(VALIDATE_DOCUMENT, &[&file]) {
        panic!("openapi-spec-validator refuses the document:\n{output}");
    }
    let _ = std::fs::remove_file(&file);

    let version = document["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1."), "openapi {version}");

    let paths = document["paths"].as_object().expect("paths");
    let mut operations = BTreeSet::new();
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            operations.insert((method.clone(), path.clone()));
        }
    }
    let documented = documented_endpoints();
    assert!(documented.len() >= 11, "the docs table: {documented:?}");
    for endpoint in &documented {
        assert!(
            operations.contains(endpoint),
            "{endpoint:?} is not in the document"
        );
    }
    assert_eq!(
        operations, documented,
        "the document has no endpoint the docs lack"
    );

    // Every operation answers 401 and takes the bearer token, but the document itself.
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["type"], "http");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["session"]["in"], "cookie");
    assert_eq!(schemes["session"]["name"], "hotline_session");
    let global = &document["security"];
    for (method, path) in &operations {
        let operation = &paths[path][method];
        let security = operation.get("security").unwrap_or(global);
        if path == "/api/openapi.json" {
            assert_eq!(security, &json!([]), "the document needs no token");
            continue;
        }
        let bearer = security
            .as_array()
            .unwrap()
            .iter()
            .any(|requirement| requirement.get("bearer").is_some());
        assert!(bearer, "{method} {path} takes no bearer token: {security}");
        assert!(
            operation["responses"].get("401").is_some(),
            "{method} {path} has no 401"
        );
    }

    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

/// Who asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Operator,
    /// A handler of the department holding the orders (SCJGJ).
    Holder,
    /// A handler of another department (YSBZX).
    OtherHandler,
    Supervisor,
    UnknownToken,
    NoToken,
    RevokedToken,
}

const EVERYONE: [Who; 7] = [
    Who::Operator,
    Who::Holder,
    Who::OtherHandler,
    Who::Supervisor,
    Who::UnknownToken,
    Who::NoToken,
    Who::RevokedToken,
];

/// What a request sends as its body.
#[derive(Debug, Clone, Copy)]
enum Body {
    None,
    /// A new complaint (a new order number each time).
    Complaint,
    /// `order.accepted` of `order` naming the holding department, SCJGJ.
    AcceptNamingHolder(&'static str),
    /// `order.accepted` of `order` naming the caller's own department (SCJGJ for those
    /// without one).
    AcceptNamingOwn(&'static str),
    /// `order.urged` of `order`.
    Urge(&'static str),
    /// An event whose type is no contract type.
    UnknownType,
    /// A draft complaint for the routing preview.
    Draft,
    /// A file: the first bytes of a PNG.
    Photo,
    /// An internal note.
    Note,
    /// A call recording's reference.
    Recording,
}

impl Body {
    /// A body sent as bytes rather than JSON.
    fn bytes(self) -> Option<Vec<u8>> {
        matches!(self, Body::Photo).then(|| b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec())
    }

    fn json(self, who: Who) -> Option<Value> {
        let own = match who {
            Who::OtherHandler => "YSBZX",
            _ => "SCJGJ",
        };
        let accept = |order: &str, department: &str| {
            now(
                "order.accepted",
                order,
                json!({"department": department, "handler": "李科员"}),
            )
        };
        Some(match self {
            Body::None | Body::Photo => return None,
            Body::Complaint => {
                let order = format!("PT-OAS-{}", uuid::Uuid::new_v4().simple());
                complaint(&order, "SC-0101", None, "超市销售过期食品")
            }
            Body::AcceptNamingHolder(order) => accept(order, "SCJGJ"),
            Body::AcceptNamingOwn(order) => accept(order, own),
            Body::Urge(order) => now("order.urged", order, json!({"note": "请尽快办理"})),
            Body::UnknownType => now("complaint.teleported", "PT-OAS-1", json!({})),
            Body::Note => json!({"text": "已电话联系商户"}),
            Body::Recording => json!({"reference": "REC-20261207-0001"}),
            Body::Draft => json!({
                "kind": "complaint", "channel": "phone", "category": "SC-0101",
                "title": "超市销售过期食品", "content": "酸奶过期三天",
                "citizen": {"name": "张三", "phone": "13812345678"},
            }),
        })
    }
}

/// Stands for the path of a file attached before the table is asked.
const ATTACHED_FILE: &str = "(the url of a file attached to PT-OAS-1)";

/// One request of the table and the status each caller gets, in the order of
/// [`EVERYONE`].
struct Row {
    method: Method,
    /// As sent, with its query.
    path: &'static str,
    /// As documented.
    operation: &'static str,
    body: Body,
    expect: [u16; 7],
}

fn row(
    method: Method,
    path: &'static str,
    operation: &'static str,
    body: Body,
    expect: [u16; 7],
) -> Row {
    Row {
        method,
        path,
        operation,
        body,
        expect,
    }
}

/// The table, from docs/http-api.md. Columns: operator, handler of the holding department,
/// handler of another department, supervisor, unknown token, no token, revoked token.
///
/// - Every `/api` call but the document needs a known, live token: 401 otherwise
///   ("Authentication and roles"; "Configuring tokens": a revoked token is refused).
/// - The lists, the export, the alerts, their stream and the KPIs: a handler's reach is its
///   own department, asking for another is 403 (each endpoint's section); the others see
///   every department.
/// - One order: a handler of another department gets 404, as for an unknown order.
/// - Events: each type has its senders (the matrix), 403 for anyone else, and a handler's
///   must name its own department (403 otherwise); a handler's event about an order its
///   department does not hold is 404; a body whose type is no contract type is any
///   token's to post, and rejected (422).
/// - The catalog and whoami: every role. The routing preview: operators and supervisors,
///   a handler 403. The document: anyone, no token needed.
fn table() -> Vec<Row> {
    use Method as M;
    let scoped = [200, 200, 403, 200, 401, 401, 401];
    vec![
        row(
            M::GET,
            "/api/orders",
            "/api/orders",
            Body::None,
            [200, 200, 200, 200, 401, 401, 401],
        ),
        row(
            M::GET,
            "/api/orders?department=SCJGJ",
            "/api/orders",
            Body::None,
            scoped,
        ),
        row(
            M::GET,
            "/api/orders.csv?department=SCJGJ",
            "/api/orders.csv",
            Body::None,
            scoped,
        ),
        row(
            M::GET,
            "/api/orders/PT-OAS-1",
            "/api/orders/{order_no}",
            Body::None,
            [200, 200, 404, 200, 401, 401, 401],
        ),
        row(
            M::POST,
            "/api/events",
            "/api/events",
            Body::Complaint,
            [202, 403, 403, 403, 401, 401, 401],
        ),
        row(
            M::POST,
            "/api/events",
            "/api/events",
            Body::AcceptNamingHolder("PT-OAS-2"),
            [403, 202, 403, 403, 401, 401, 401],
        ),
        row(
            M::POST,
            "/api/events",
            "/api/events",
            Body::AcceptNamingOwn("PT-OAS-3"),
            [403, 202, 404, 403, 401, 401, 401],
        ),
        row(
            M::POST,
            "/api/events",
            "/api/events",
            Body::Urge("PT-OAS-1"),
            [403, 403, 403, 202, 401, 401, 401],
        ),
        row(
            M::POST,
            "/api/events",
            "/api/events",
            Body::UnknownType,
            [422, 422, 422, 422, 401, 401, 401],
        ),
        row(
            M::GET,
            "/api/alerts",
            "/api/alerts",
            Body::None,
            [200, 200, 200, 200, 401, 401, 401],
        ),
        row(
            M::GET,
            "/api/alerts?department=SCJGJ",
            "/api/alerts",
            Body::None,
            scoped,
        ),
        row(
            M::GET,
            "/api/alerts/stream?department=SCJGJ",
            "/api/alerts/stream",
            Body::None,
            scoped,
        ),
        row(
            M::GET,
            "/api/kpis?department=SCJGJ",
            "/api/kpis",
            Body::None,
            scoped,
        ),
        row(
            M::GET,
            "/api/ranking?period=last30",
            "/api/ranking",
            Body::None,
            [200, 200, 200, 200, 401, 401, 401],
        ),
        row(
            M::GET,
            "/api/ranking?period=someday",
            "/api/ranking",
            Body::None,
            [400, 400, 400, 400, 401, 401, 401],
        ),
        row(
            M::GET,
            "/api/whoami",
            "/api/whoami",
            Body::None,
            [200, 200, 200, 200, 401, 401, 401],
        ),
        row(
            M::GET,
            "/api/catalog",
            "/api/catalog",
            Body::None,
            [200, 200, 200, 200, 401, 401, 401],
        ),
        row(
            M::POST,
            "/api/route-preview",
            "/api/route-preview",
            Body::Draft,
            [200, 403, 403, 200, 401, 401, 401],
        ),
        // Attachments: operators and the holding department attach, the holding department,
        // operators and supervisors read, another department learns nothing (404).
        row(
            M::POST,
            "/api/orders/PT-OAS-1/attachments?name=a.png",
            "/api/orders/{order_no}/attachments",
            Body::Photo,
            [201, 201, 404, 403, 401, 401, 401],
        ),
        row(
            M::GET,
            "/api/orders/PT-OAS-1/attachments",
            "/api/orders/{order_no}/attachments",
            Body::None,
            [200, 200, 404, 200, 401, 401, 401],
        ),
        row(
            M::GET,
            ATTACHED_FILE,
            "/api/orders/{order_no}/attachments/{id}",
            Body::None,
            [200, 200, 404, 200, 401, 401, 401],
        ),
        // A call's recording: the operators link it.
        row(
            M::POST,
            "/api/orders/PT-OAS-2/recordings",
            "/api/orders/{order_no}/recordings",
            Body::Recording,
            [201, 403, 404, 403, 401, 401, 401],
        ),
        // Internal notes: every unit that sees the order writes and reads its own.
        row(
            M::POST,
            "/api/orders/PT-OAS-1/notes",
            "/api/orders/{order_no}/notes",
            Body::Note,
            [201, 201, 404, 201, 401, 401, 401],
        ),
        row(
            M::GET,
            "/api/orders/PT-OAS-1/notes",
            "/api/orders/{order_no}/notes",
            Body::None,
            [200, 200, 404, 200, 401, 401, 401],
        ),
        row(
            M::GET,
            "/api/openapi.json",
            "/api/openapi.json",
            Body::None,
            [200, 200, 200, 200, 200, 200, 200],
        ),
    ]
}

/// The declared response of `operation` for `status` (a reference to
/// `#/components/responses` followed).
fn declared(document: &Value, operation: &Value, status: u16) -> Option<Value> {
    let response = operation["responses"].get(status.to_string())?;
    match response.get("$ref").and_then(Value::as_str) {
        Some(reference) => document.pointer(reference.strip_prefix('#')?).cloned(),
        None => Some(response.clone()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_every_caller_as_documented() {
    let env = TestEnv::new().await;
    let engine = start(&env).await;
    let http = reqwest::Client::new();
    let base = engine.base.clone();

    // Three orders held by SCJGJ.
    for order in ["PT-OAS-1", "PT-OAS-2", "PT-OAS-3"] {
        let response = http
            .post(format!("{base}/api/events"))
            .bearer_auth(OPERATOR)
            .json(&complaint(order, "SC-0101", None, "超市销售过期食品"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    let (_, order) = engine.get("/api/orders/PT-OAS-1", OPERATOR).await;
    assert_eq!(order["department"], "SCJGJ");
    let attached: Value = http
        .post(format!("{base}/api/orders/PT-OAS-1/attachments?name=x.png"))
        .bearer_auth(OPERATOR)
        .body(Body::Photo.bytes().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let attached_url = attached["url"].as_str().expect("a file's url").to_owned();

    // A token made, used, revoked, and refused.
    let revoked = env
        .run_cli(&[
            "token",
            "create",
            "--name",
            "oas-revoked",
            "--role",
            "operator",
        ])
        .await
        .trim()
        .to_owned();
    let whoami = format!("{base}/api/whoami");
    let status_of = |token: String| {
        let http = http.clone();
        let whoami = whoami.clone();
        async move {
            http.get(&whoami)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    wait_for("the new token works", Duration::from_secs(30), || {
        let status = status_of(revoked.clone());
        async move { status.await == StatusCode::OK }
    })
    .await;
    env.run_cli(&["token", "revoke", "oas-revoked"]).await;
    wait_for(
        "the revoked token is refused",
        Duration::from_secs(30),
        || {
            let status = status_of(revoked.clone());
            async move { status.await == StatusCode::UNAUTHORIZED }
        },
    )
    .await;

    let document: Value = http
        .get(format!("{base}/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let mut faults = Vec::new();
    let mut samples = Vec::new();
    let mut asked = BTreeSet::new();
    for row in table() {
        let method_name = row.method.as_str().to_lowercase();
        asked.insert((method_name.clone(), row.operation.to_owned()));
        let operation = &document["paths"][row.operation][&method_name];
        if operation.is_null() {
            faults.push(format!(
                "{} {}: not in the document",
                row.method, row.operation
            ));
            continue;
        }
        for (who, expected) in EVERYONE.into_iter().zip(row.expect) {
            let token = match who {
                Who::Operator => Some(OPERATOR),
                Who::Holder => Some(HOLDER),
                Who::OtherHandler => Some(OTHER),
                Who::Supervisor => Some(SUPERVISOR),
                Who::UnknownToken => Some(UNKNOWN),
                Who::NoToken => None,
                Who::RevokedToken => Some(revoked.as_str()),
            };
            let path = if row.path == ATTACHED_FILE {
                attached_url.as_str()
            } else {
                row.path
            };
            let mut request = http.request(row.method.clone(), format!("{base}{path}"));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let body = row.body.json(who);
            if let Some(body) = &body {
                request = request.json(body);
            }
            if let Some(bytes) = row.body.bytes() {
                request = request.body(bytes);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let what = format!("{} {} {:?} as {who:?}", row.method, row.path, row.body);
            if status != expected {
                let text = if row.operation == "/api/alerts/stream" && status == 200 {
                    String::from("(a stream)")
                } else {
                    response.text().await.unwrap_or_default()
                };
                faults.push(format!("{what}: {status}, expected {expected}: {text}"));
                continue;
            }
            if status == 401 && !response.headers().contains_key("www-authenticate") {
                faults.push(format!("{what}: 401 without WWW-Authenticate"));
            }
            let Some(answer) = declared(&document, operation, status) else {
                faults.push(format!("{what}: {status} is not a documented answer"));
                continue;
            };
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let media = |t: &str| t.split(';').next().unwrap_or_default().trim().to_owned();
            let declared_media: Vec<String> = answer["content"]
                .as_object()
                .map(|content| content.keys().map(|k| media(k)).collect())
                .unwrap_or_default();
            if !declared_media.contains(&media(&content_type)) {
                faults.push(format!(
                    "{what}: Content-Type {content_type}, documented {declared_media:?}"
                ));
            }
            if media(&content_type) == "application/json" {
                let body: Value = response.json().await.unwrap_or(Value::Null);
                let schema = answer["content"]
                    .as_object()
                    .and_then(|content| {
                        content
                            .iter()
                            .find(|(key, _)| media(key) == "application/json")
                    })
                    .map(|(_, media)| media["schema"].clone())
                    .unwrap_or(Value::Null);
                samples.push(json!({"what": what, "schema": schema, "body": body}));
            }
            // Anything else (the stream, the file) is dropped unread.
        }
    }

    // The table asks every documented endpoint.
    let documented: BTreeSet<(String, String)> = documented_endpoints();
    assert_eq!(
        asked, documented,
        "the table asks every endpoint of the docs"
    );
    assert!(
        faults.is_empty(),
        "{} faults:\n{}",
        faults.len(),
        faults.join("\n")
    );

    // Every JSON answer is valid against the schema the document declares for it.
    let document_file = std::env::temp_dir().join(format!("hotline-{}-openapi.json", env.id));
    let samples_file = std::env::temp_dir().join(format!("hotline-{}-samples.json", env.id));
    std::fs::write(&document_file, document.to_string()).unwrap();
    std::fs::write(&samples_file, Value::Array(samples).to_string()).unwrap();
    let checked = python(VALIDATE_BODIES, &[&document_file, &samples_file]);
    let _ = std::fs::remove_file(&document_file);
    let _ = std::fs::remove_file(&samples_file);
    if let Err(output) = checked {
        panic!("answers that do not match the document:\n{output}");
    }

    assert!(engine.terminate().await.success());
    env.cleanup().await;
}

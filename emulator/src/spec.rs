//! Discord's own descriptions, used as the gate: the route table and request-body schemas come
//! from the OpenAPI spec, gateway payloads are checked against the discord-api-types schemas.

use std::collections::HashMap;
use std::sync::Arc;

use jsonschema::Validator;
use parking_lot::Mutex;
use serde_json::{json, Value};

const OPENAPI: &str = include_str!("../spec/openapi.json");

const GATEWAY_SCHEMAS: [(&str, &str); 9] = [
    ("HELLO", include_str!("../spec/gateway-schemas/Hello.json")),
    (
        "IDENTIFY",
        include_str!("../spec/gateway-schemas/Identify.json"),
    ),
    ("READY", include_str!("../spec/gateway-schemas/Ready.json")),
    (
        "MESSAGE_CREATE",
        include_str!("../spec/gateway-schemas/MessageCreate.json"),
    ),
    (
        "GUILD_MEMBER_ADD",
        include_str!("../spec/gateway-schemas/MemberAdd.json"),
    ),
    (
        "GUILD_MEMBER_REMOVE",
        include_str!("../spec/gateway-schemas/MemberRemove.json"),
    ),
    (
        "MESSAGE_REACTION_ADD",
        include_str!("../spec/gateway-schemas/ReactionAdd.json"),
    ),
    (
        "THREAD_CREATE",
        include_str!("../spec/gateway-schemas/ThreadCreate.json"),
    ),
    (
        "VOICE_STATE_UPDATE",
        include_str!("../spec/gateway-schemas/VoiceStateUpdate.json"),
    ),
];

/// Where the OpenAPI spec and Discord's documentation disagree, the documentation wins
/// (`shared/discord-api/README.md`). Each correction names the documented behaviour.
fn apply_documented_corrections(doc: &mut Value) {
    let schemas = &mut doc["components"]["schemas"];
    // Docs: `default_member_permissions` is a "?string" (a permission bit set serialized as a
    // string, as every client library sends it); the spec says integer.
    for request in [
        "ApplicationCommandCreateRequest",
        "ApplicationCommandUpdateRequest",
        "ApplicationCommandPatchRequestPartial",
    ] {
        schemas[request]["properties"]["default_member_permissions"] =
            json!({ "type": ["string", "null"], "pattern": "^[0-9]+$" });
    }
    // Docs ("Uploading Files"): a new upload's attachment `id` is the file's index, written as
    // an integer in Discord's own examples (`"id": 0`); the spec allows only snowflake strings.
    schemas["MessageAttachmentRequest"]["properties"]["id"] = json!({
        "anyOf": [{ "$ref": "#/components/schemas/SnowflakeType" }, { "type": "integer", "minimum": 0 }]
    });
    // Docs: a bot's message content is at most 2000 characters (4000 is for Nitro users).
    for request in ["MessageCreateRequest", "MessageEditRequestPartial"] {
        if schemas[request]["properties"]["content"].is_object() {
            schemas[request]["properties"]["content"]["maxLength"] = json!(2000);
        }
    }
}

/// One operation of the spec.
#[derive(Clone, Debug)]
pub struct Route {
    pub method: String,
    pub segments: Vec<String>,
    pub operation_id: String,
    /// The JSON schema of the request body, if the operation takes one.
    pub body_schema: Option<Value>,
}

/// A matched request: the operation and the path parameters by name.
#[derive(Clone, Debug)]
pub struct Matched {
    pub operation_id: String,
    pub params: HashMap<String, String>,
    route_index: usize,
}

pub struct Spec {
    routes: Vec<Route>,
    components: Value,
    body_validators: Mutex<HashMap<usize, Arc<Validator>>>,
    gateway: HashMap<&'static str, Validator>,
}

impl Spec {
    pub fn load() -> anyhow::Result<Self> {
        let mut doc: Value = serde_json::from_str(OPENAPI)?;
        apply_documented_corrections(&mut doc);
        let mut routes = Vec::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for method in ["get", "post", "put", "patch", "delete"] {
                let Some(op) = item.get(method) else { continue };
                let content = &op["requestBody"]["content"];
                let body_schema = content
                    .get("application/json")
                    .or_else(|| content.get("multipart/form-data"))
                    .map(|c| c["schema"].clone());
                routes.push(Route {
                    method: method.to_uppercase(),
                    segments: path
                        .trim_start_matches('/')
                        .split('/')
                        .map(str::to_owned)
                        .collect(),
                    operation_id: op["operationId"].as_str().unwrap_or_default().to_owned(),
                    body_schema,
                });
            }
        }
        let mut gateway = HashMap::new();
        for (name, text) in GATEWAY_SCHEMAS {
            let schema: Value = serde_json::from_str(text)?;
            let validator = jsonschema::options()
                .with_draft(jsonschema::Draft::Draft7)
                .build(&schema)
                .map_err(|e| anyhow::anyhow!("gateway schema {name}: {e}"))?;
            gateway.insert(name, validator);
        }
        Ok(Self {
            routes,
            components: doc["components"].clone(),
            body_validators: Mutex::new(HashMap::new()),
            gateway,
        })
    }

    /// Finds the operation for a method and a path (after `/api/v10`), preferring literal
    /// segments (`@me`, `@original`) over parameters.
    pub fn match_route(&self, method: &str, path: &str) -> Option<Matched> {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let mut best: Option<(usize, usize)> = None;
        for (index, route) in self.routes.iter().enumerate() {
            if route.method != method || route.segments.len() != parts.len() {
                continue;
            }
            let mut literals = 0;
            let fits = route.segments.iter().zip(&parts).all(|(seg, part)| {
                if seg.starts_with('{') {
                    !part.is_empty()
                } else if seg == part {
                    literals += 1;
                    true
                } else {
                    false
                }
            });
            if fits && best.is_none_or(|(_, l)| literals > l) {
                best = Some((index, literals));
            }
        }
        let (index, _) = best?;
        let route = &self.routes[index];
        let params = route
            .segments
            .iter()
            .zip(&parts)
            .filter(|(seg, _)| seg.starts_with('{'))
            .map(|(seg, part)| (seg.trim_matches(['{', '}']).to_owned(), (*part).to_owned()))
            .collect();
        Some(Matched {
            operation_id: route.operation_id.clone(),
            params,
            route_index: index,
        })
    }

    /// Validates a request body; returns the problems (empty when valid or when the operation
    /// takes no body).
    pub fn check_body(&self, matched: &Matched, body: &Value) -> Vec<String> {
        let route = &self.routes[matched.route_index];
        let Some(schema) = &route.body_schema else {
            return match body {
                Value::Null => Vec::new(),
                _ => vec![format!("{} takes no request body", route.operation_id)],
            };
        };
        let validator = {
            let cached = self
                .body_validators
                .lock()
                .get(&matched.route_index)
                .cloned();
            match cached {
                Some(v) => v,
                None => {
                    // The body schema refers to `#/components/...`: give it the components.
                    let document = json!({ "allOf": [schema], "components": self.components });
                    match jsonschema::options()
                        .with_draft(jsonschema::Draft::Draft202012)
                        .build(&document)
                    {
                        Ok(v) => {
                            let v = Arc::new(v);
                            self.body_validators
                                .lock()
                                .insert(matched.route_index, v.clone());
                            v
                        }
                        Err(err) => {
                            return vec![format!(
                                "cannot compile the schema of {}: {err}",
                                route.operation_id
                            )]
                        }
                    }
                }
            }
        };
        validator
            .iter_errors(body)
            .take(10)
            .map(|e| format!("{} at `{}`", e, e.instance_path))
            .collect()
    }

    /// Validates a gateway frame against its schema, when there is one.
    pub fn check_gateway(&self, name: &str, frame: &Value) -> Vec<String> {
        let Some(validator) = self.gateway.get(name) else {
            return Vec::new();
        };
        validator
            .iter_errors(frame)
            .take(10)
            .map(|e| format!("{name}: {} at `{}`", e, e.instance_path))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_prefer_literal_segments() {
        let spec = Spec::load().unwrap();
        let m = spec.match_route("GET", "/users/@me").unwrap();
        assert_eq!(m.operation_id, "get_my_user");
        let m = spec.match_route("GET", "/users/123").unwrap();
        assert_eq!(m.params["user_id"], "123");
        let m = spec
            .match_route("PATCH", "/webhooks/1/tok/messages/@original")
            .unwrap();
        assert_eq!(m.operation_id, "update_original_webhook_message");
        assert!(spec.match_route("GET", "/nope").is_none());
    }

    #[test]
    fn message_bodies_are_validated() {
        let spec = Spec::load().unwrap();
        let m = spec.match_route("POST", "/channels/1/messages").unwrap();
        assert!(spec
            .check_body(
                &m,
                &json!({"content": "hi", "allowed_mentions": {"parse": []}})
            )
            .is_empty());
        assert!(!spec.check_body(&m, &json!({"content": 5})).is_empty());
    }

    #[test]
    fn gateway_frames_are_validated() {
        let spec = Spec::load().unwrap();
        let hello = json!({"op": 10, "d": {"heartbeat_interval": 1000}, "s": null, "t": null});
        assert!(
            spec.check_gateway("HELLO", &hello).is_empty(),
            "{:?}",
            spec.check_gateway("HELLO", &hello)
        );
        assert!(!spec
            .check_gateway("HELLO", &json!({"op": 10, "d": {}}))
            .is_empty());
    }
}

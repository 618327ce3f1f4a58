//! The same facts stated in several files must agree: the table in `template.yaml` and the one
//! `keyhive-admin` creates locally; the routes of the route table, the template's API events and
//! the local router of `cargo lambda watch`.

use keyhive::http::routes::{deployed_routes, Access, Function, Trigger, ROUTES, WORKERS};
use keyhive::schema::table_definition;
use keyhive::testkit::workspace_root;
use std::collections::{BTreeMap, BTreeSet};
use yaml_rust2::{Yaml, YamlLoader};

fn template() -> Yaml {
    let text = std::fs::read_to_string(workspace_root().join("template.yaml")).expect("template.yaml");
    YamlLoader::load_from_str(&text).expect("template.yaml parses").remove(0)
}

fn s(y: &Yaml) -> &str {
    y.as_str().unwrap_or_else(|| panic!("expected a string, got {y:?}"))
}

#[test]
fn template_table_matches_the_schema_module() {
    let t = template();
    let table = &t["Resources"]["Table"]["Properties"];
    let def = table_definition();
    let attributes: Vec<(String, String)> = table["AttributeDefinitions"]
        .as_vec()
        .expect("AttributeDefinitions")
        .iter()
        .map(|a| (s(&a["AttributeName"]).to_string(), s(&a["AttributeType"]).to_string()))
        .collect();
    let expected: Vec<(String, String)> = def.attributes.iter().map(|(n, k)| (n.to_string(), k.to_string())).collect();
    assert_eq!(attributes, expected);
    let key_schema = |y: &Yaml| -> Vec<(String, String)> {
        y.as_vec()
            .expect("KeySchema")
            .iter()
            .map(|k| (s(&k["AttributeName"]).into(), s(&k["KeyType"]).into()))
            .collect()
    };
    assert_eq!(
        key_schema(&table["KeySchema"]),
        vec![(def.partition_key.to_string(), "HASH".to_string()), (def.sort_key.to_string(), "RANGE".to_string())]
    );
    let indexes = table["GlobalSecondaryIndexes"].as_vec().expect("GlobalSecondaryIndexes");
    assert_eq!(indexes.len(), def.global_indexes.len());
    for (yaml, index) in indexes.iter().zip(&def.global_indexes) {
        assert_eq!(s(&yaml["IndexName"]), index.name);
        assert_eq!(
            key_schema(&yaml["KeySchema"]),
            vec![
                (index.partition_key.to_string(), "HASH".to_string()),
                (index.sort_key.to_string(), "RANGE".to_string())
            ]
        );
        assert_eq!(s(&yaml["Projection"]["ProjectionType"]), index.projection);
        let included: Vec<&str> =
            yaml["Projection"]["NonKeyAttributes"].as_vec().map(|v| v.iter().map(s).collect()).unwrap_or_default();
        assert_eq!(included, index.non_key_attributes, "{} NonKeyAttributes", index.name);
    }
    assert_eq!(s(&table["BillingMode"]), def.billing_mode);
    assert_eq!(s(&table["TimeToLiveSpecification"]["AttributeName"]), def.ttl_attribute);
    assert_eq!(table["TimeToLiveSpecification"]["Enabled"].as_bool(), Some(true));
    assert_eq!(table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(), Some(true));
    assert_eq!(s(&table["StreamSpecification"]["StreamViewType"]), def.stream_view_type);
}

fn function_resource(function: Function) -> String {
    let name = function.name();
    format!("{}{}Function", name[..1].to_uppercase(), &name[1..])
}

#[test]
fn template_api_events_match_the_route_table() {
    let t = template();
    let resources = t["Resources"].as_hash().expect("Resources");
    // (function resource, METHOD, path, authorizer NONE?) from the template.
    let mut declared = BTreeSet::new();
    let mut any_paths = BTreeMap::new();
    for (name, resource) in resources {
        if s(&resource["Type"]) != "AWS::Serverless::Function" {
            continue;
        }
        let Some(events) = resource["Properties"]["Events"].as_hash() else { continue };
        for event in events.values() {
            if s(&event["Type"]) != "Api" {
                continue; // Schedules and streams: held to the workers list below.
            }
            let props = &event["Properties"];
            let public = props["Auth"]["Authorizer"].as_str() == Some("NONE");
            let method = s(&props["Method"]).to_uppercase();
            let path = s(&props["Path"]).to_string();
            if method == "ANY" {
                // The 405 catcher: public, so a wrong method is 405 before any credential check.
                assert!(public, "ANY {path} must not require the authorizer");
                any_paths.insert(path, s(name).to_string());
            } else {
                declared.insert((s(name).to_string(), method, path, public));
            }
        }
    }
    // Local-only routes (the rendered API reference) are never deployed.
    let expected: BTreeSet<_> = deployed_routes()
        .map(|r| {
            (function_resource(r.function()), r.method.to_string(), r.pattern.to_string(), r.access == Access::Public)
        })
        .collect();
    assert_eq!(declared, expected, "template.yaml Api events differ from shared/src/http/routes.rs");
    let expected_any: BTreeMap<_, _> =
        deployed_routes().map(|r| (r.pattern.to_string(), function_resource(r.function()))).collect();
    assert_eq!(any_paths, expected_any, "every routed path needs one ANY event on its function");
}

#[test]
fn local_router_sends_every_route_to_its_function() {
    let text = std::fs::read_to_string(workspace_root().join("Cargo.toml")).expect("Cargo.toml");
    let manifest: toml::Table = text.parse().expect("Cargo.toml parses");
    let router = manifest["workspace"]["metadata"]["lambda"]["watch"]["router"].as_table().expect("watch router");
    for route in ROUTES {
        let target = router.get(route.pattern).and_then(|v| v.as_str());
        assert_eq!(target, Some(route.function().name()), "router entry for {}", route.pattern);
    }
    for catch_all in ["/", "//", "/v1/", "/v1/{*rest}", "/{slug}/", "/{slug}/{*rest}"] {
        assert!(router.contains_key(catch_all), "router lacks the catch-all {catch_all}");
    }
}

#[test]
fn openapi_describes_exactly_the_routes_of_the_route_table() {
    let text = std::fs::read_to_string(workspace_root().join("openapi.yaml")).expect("openapi.yaml");
    let doc = YamlLoader::load_from_str(&text).expect("openapi.yaml parses").remove(0);
    assert_eq!(s(&doc["openapi"]), "3.1.0");
    let methods = ["get", "put", "post", "patch", "delete", "head", "options"];
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_hash().expect("paths") {
        for (method, operation) in item.as_hash().expect("path item") {
            let method = s(method);
            if !methods.contains(&method) {
                continue;
            }
            let public = operation["security"].as_vec().is_some_and(|v| v.is_empty());
            let idempotent = operation["parameters"].as_vec().is_some_and(|ps| {
                ps.iter().any(|p| p["$ref"].as_str() == Some("#/components/parameters/IdempotencyKey"))
            });
            documented.insert((method.to_uppercase(), s(path).to_string(), public, idempotent));
        }
    }
    // The local stack's API reference page is not part of the API it documents.
    let routed: BTreeSet<_> = deployed_routes()
        .map(|r| (r.method.to_string(), r.pattern.to_string(), r.access == Access::Public, r.idempotent))
        .collect();
    assert_eq!(documented, routed, "openapi.yaml and shared/src/http/routes.rs disagree");
    for scheme in ["ApiKeyHeader", "BearerAuth", "RawAuthorization"] {
        assert!(!doc["components"]["securitySchemes"][scheme].is_badvalue(), "{scheme} missing");
    }
}

/// Every non-API event of `template.yaml` (schedules, the table's stream) belongs to a worker of
/// the route module's list, and every worker has exactly its triggers in the template. A stream
/// trigger is filtered to outbox inserts: every authenticated request writes a key item, so an
/// unfiltered trigger would run the dispatcher on each of them.
#[test]
fn template_schedules_and_streams_match_the_workers() {
    let t = template();
    let mut declared = BTreeSet::new();
    for (name, resource) in t["Resources"].as_hash().expect("Resources") {
        let Some(events) = resource["Properties"]["Events"].as_hash() else { continue };
        for event in events.values() {
            let props = &event["Properties"];
            match s(&event["Type"]) {
                "Api" => {}
                "Schedule" => {
                    declared.insert((s(name).to_string(), format!("schedule {}", s(&props["Schedule"]))));
                }
                "DynamoDB" => {
                    let filters = format!("{:?}", props["FilterCriteria"]);
                    assert!(
                        filters.contains("INSERT") && filters.contains("OUTBOX#"),
                        "{}: unfiltered stream",
                        s(name)
                    );
                    assert!(
                        props["FunctionResponseTypes"]
                            .as_vec()
                            .is_some_and(|v| v.iter().any(|t| t.as_str() == Some("ReportBatchItemFailures"))),
                        "{}: stream without ReportBatchItemFailures",
                        s(name)
                    );
                    declared.insert((s(name).to_string(), "outbox stream".to_string()));
                }
                other => panic!("{}: event type {other} is not one keyhive uses", s(name)),
            }
        }
    }
    let expected: BTreeSet<_> = WORKERS
        .iter()
        .flat_map(|w| {
            w.triggers.iter().map(move |t| {
                let trigger = match t {
                    Trigger::Schedule(rate) => format!("schedule {rate}"),
                    Trigger::OutboxStream => "outbox stream".to_string(),
                };
                (w.resource.to_string(), trigger)
            })
        })
        .collect();
    assert_eq!(declared, expected, "template.yaml's schedules and streams differ from routes::WORKERS");
    for worker in WORKERS {
        let binary = &t["Resources"][worker.resource]["Metadata"]["BuildProperties"]["Binary"];
        assert_eq!(binary.as_str(), Some(worker.binary), "{} builds {}", worker.resource, worker.binary);
    }
}

/// Local development mode (http and loopback webhook targets) and the local API reference page
/// are never on in AWS: the template sets `KEYHIVE_DEV_MODE` and `KEYHIVE_DOCS_FILE` nowhere.
#[test]
fn the_template_never_turns_local_development_settings_on() {
    let text = std::fs::read_to_string(workspace_root().join("template.yaml")).expect("template.yaml");
    let t = template();
    for local in ["KEYHIVE_DEV_MODE", "KEYHIVE_DOCS_FILE"] {
        assert!(!text.contains(local), "template.yaml sets {local}");
        for (name, resource) in t["Resources"].as_hash().expect("Resources") {
            let vars = &resource["Properties"]["Environment"]["Variables"];
            assert!(vars[local].is_badvalue(), "{} sets {local}", s(name));
        }
        assert!(t["Globals"]["Function"]["Environment"]["Variables"][local].is_badvalue());
    }
}

/// A YAML scalar or list of scalars, as strings (CloudFormation tags such as `!GetAtt` are
/// dropped by the loader, leaving their argument).
fn strings(y: &Yaml) -> Vec<String> {
    match y {
        Yaml::Array(items) => items.iter().map(|i| s(i).to_string()).collect(),
        Yaml::BadValue => Vec::new(),
        other => vec![s(other).to_string()],
    }
}

/// Each function resource of the template by the binary it builds.
fn functions_by_binary(t: &Yaml) -> BTreeMap<String, Yaml> {
    let mut found = BTreeMap::new();
    for resource in t["Resources"].as_hash().expect("Resources").values() {
        if resource["Type"].as_str() == Some("AWS::Serverless::Function") {
            let binary = s(&resource["Metadata"]["BuildProperties"]["Binary"]).to_string();
            found.insert(binary, resource.clone());
        }
    }
    found
}

fn statements(function: &Yaml) -> Vec<Yaml> {
    let policies = function["Properties"]["Policies"].as_vec().cloned().unwrap_or_default();
    policies.iter().flat_map(|p| p["Statement"].as_vec().cloned().unwrap_or_default()).collect()
}

/// `*` matches any characters, as in IAM's StringLike.
fn like(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == value,
        Some((head, rest)) => {
            value.starts_with(head) && (0..=value.len() - head.len()).any(|i| like(rest, &value[head.len() + i..]))
        }
    }
}

/// Least privilege on the table: every function's item statement is bounded by
/// `dynamodb:LeadingKeys` to exactly the schema module's `ROLE_PARTITIONS`, indexes get queries
/// only, and no role may scan the table itself (a Scan has no leading key, so a `ForAllValues`
/// condition would not bound it).
#[test]
fn each_role_reaches_only_the_partitions_the_schema_module_grants_it() {
    let t = template();
    let item_actions: BTreeSet<&str> = [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:Query",
    ]
    .into();
    let mut granted = BTreeMap::new();
    for (binary, function) in functions_by_binary(&t) {
        let mut patterns: Option<BTreeSet<String>> = None;
        for statement in statements(&function) {
            assert_eq!(s(&statement["Effect"]), "Allow", "{binary}: only Allow statements");
            let actions = strings(&statement["Action"]);
            if !actions.iter().any(|a| a.starts_with("dynamodb:")) {
                continue;
            }
            for resource in strings(&statement["Resource"]) {
                if resource == "Table.Arn" {
                    for action in &actions {
                        assert!(item_actions.contains(action.as_str()), "{binary}: {action} on the table");
                    }
                    let keys = &statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"];
                    let keys: BTreeSet<String> = strings(keys).into_iter().collect();
                    assert!(!keys.is_empty(), "{binary}: a table statement without a dynamodb:LeadingKeys condition");
                    assert!(patterns.replace(keys).is_none(), "{binary}: more than one table statement");
                } else if resource.starts_with("${Table.Arn}/index/") {
                    for action in &actions {
                        assert!(
                            action == "dynamodb:Query" || action == "dynamodb:Scan",
                            "{binary}: {action} on {resource}"
                        );
                    }
                } else if resource == "Table.StreamArn" {
                    let stream_reads = [
                        "dynamodb:DescribeStream",
                        "dynamodb:GetRecords",
                        "dynamodb:GetShardIterator",
                        "dynamodb:ListStreams",
                    ];
                    assert!(
                        actions.iter().all(|a| stream_reads.contains(&a.as_str())),
                        "{binary}: {actions:?} on the stream"
                    );
                } else {
                    panic!("{binary}: dynamodb actions on {resource}");
                }
            }
        }
        granted.insert(binary, patterns.unwrap_or_default());
    }
    let expected: BTreeMap<String, BTreeSet<String>> = keyhive::schema::ROLE_PARTITIONS
        .iter()
        .map(|(binary, patterns)| (binary.to_string(), patterns.iter().map(|p| p.to_string()).collect()))
        .collect();
    assert_eq!(granted, expected, "template.yaml's dynamodb:LeadingKeys differ from schema::ROLE_PARTITIONS");
}

/// Each pattern of `ROLE_PARTITIONS` is a partition the key builders make, and each partition a
/// binary's code touches is granted: renaming a prefix in the schema module fails here, not in
/// production with AccessDenied. Only the authorizer and the keys function reach key items.
#[test]
fn every_granted_pattern_matches_the_partitions_the_builders_make() {
    use keyhive::schema::*;
    let (org, env, id) = ("org_AbCdEf0123456789abcd", "live", "AbCdEf123456");
    let touched: BTreeMap<&str, Vec<String>> = [
        ("health", vec![HEALTH_PK.to_string()]),
        ("authorizer", vec![key_pk(id)]),
        (
            "keys",
            vec![key_pk(id), org_pk(org), audit_pk(org), outbox_pk(org, env), idempotency_pk(org, env, id, "ab12")],
        ),
        (
            "sandboxes",
            vec![
                sandbox_pk("sbx_1"),
                quota_pk(org, env),
                audit_pk(org),
                outbox_pk(org, env),
                idempotency_pk(org, env, id, "ab12"),
            ],
        ),
        ("sandbox-sweep", vec![sandbox_pk("sbx_1"), quota_pk(org, env), audit_pk(org), outbox_pk(org, env)]),
        (
            "links",
            vec![
                link_pk("lnk_1"),
                slug_pk(OWN_LINK_DOMAIN, "promo"),
                slug_pk("go.example.com", "promo"),
                quota_pk(org, env),
                domain_pk("dom_1"),
                hostname_pk("go.example.com"),
                tenant_hostname_pk(org, env, "go.example.com"),
                audit_pk(org),
                outbox_pk(org, env),
                idempotency_pk(org, env, id, "ab12"),
            ],
        ),
        (
            "webhooks",
            vec![
                webhook_pk("whk_1"),
                attempts_pk("whk_1"),
                delivery_pk("dlv_1"),
                audit_pk(org),
                idempotency_pk(org, env, id, "ab12"),
            ],
        ),
        (
            "webhook-dispatcher",
            vec![outbox_pk(org, env), delivery_pk("dlv_1"), webhook_pk("whk_1"), attempts_pk("whk_1"), audit_pk(org)],
        ),
    ]
    .into();
    let roles: BTreeMap<&str, &[&str]> = ROLE_PARTITIONS.iter().copied().collect();
    assert_eq!(roles.keys().collect::<Vec<_>>(), touched.keys().collect::<Vec<_>>());
    for (binary, partitions) in &touched {
        let patterns = roles[binary];
        for partition in partitions {
            assert!(
                patterns.iter().any(|p| like(p, partition)),
                "{binary} touches {partition}, which it is not granted"
            );
        }
        for pattern in patterns {
            assert!(
                partitions.iter().any(|p| like(pattern, p)),
                "{binary} is granted {pattern}, which no builder makes"
            );
        }
    }
    for (binary, patterns) in &roles {
        let reaches_keys = patterns.iter().any(|p| like(p, &key_pk(id)));
        assert_eq!(reaches_keys, ["authorizer", "keys"].contains(binary), "{binary} and key items");
    }
    assert!(like("ORG#*#AUDIT", &audit_pk(org)) && !like("ORG#*#AUDIT", &org_pk(org)));
}

/// The hashing secret is read by the authorizer (every request) and the keys function (new and
/// rolled keys) only; the webhook sealing key by the two webhook binaries only.
#[test]
fn only_the_functions_that_need_a_secret_may_read_it() {
    let t = template();
    let mut readers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (binary, function) in functions_by_binary(&t) {
        for statement in statements(&function) {
            if strings(&statement["Action"]).iter().any(|a| a == "secretsmanager:GetSecretValue") {
                for secret in strings(&statement["Resource"]) {
                    readers.entry(secret).or_default().insert(binary.clone());
                }
            }
        }
    }
    let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(readers.get("HashingSecret"), Some(&set(&["authorizer", "keys"])));
    assert_eq!(readers.get("WebhookSealingSecret"), Some(&set(&["webhook-dispatcher", "webhooks"])));
    assert_eq!(readers.get("CursorSecret"), Some(&set(&["keys", "links", "sandboxes", "webhooks"])));
    assert_eq!(readers.len(), 3, "{readers:?}");
}

/// Every function logs to a log group of its own with the template's retention, and the stage's
/// access log is one JSON object per request that never holds API Gateway's error message (for
/// a signature error it quotes the Authorization header, a key).
#[test]
fn every_log_group_has_a_retention_and_the_access_log_holds_no_credential() {
    let t = template();
    let resources = &t["Resources"];
    let mut groups = BTreeSet::new();
    for (binary, function) in functions_by_binary(&t) {
        let group = s(&function["Properties"]["LoggingConfig"]["LogGroup"]).to_string();
        assert_eq!(s(&resources[group.as_str()]["Type"]), "AWS::Logs::LogGroup", "{binary}: {group}");
        assert_eq!(s(&resources[group.as_str()]["Properties"]["RetentionInDays"]), "LogRetentionDays", "{binary}");
        assert!(groups.insert(group), "{binary} shares a log group");
    }
    assert_eq!(s(&t["Globals"]["Function"]["LoggingConfig"]["LogFormat"]), "JSON");
    let access = &resources["Api"]["Properties"]["AccessLogSetting"];
    assert_eq!(s(&access["DestinationArn"]), "ApiAccessLogGroup.Arn");
    assert_eq!(s(&resources["ApiAccessLogGroup"]["Properties"]["RetentionInDays"]), "LogRetentionDays");
    let format = s(&access["Format"]);
    let line: serde_json::Value = serde_json::from_str(format).expect("the access log format is JSON");
    for field in ["request_id", "status", "error_type", "authorizer_latency_ms"] {
        assert!(line[field].is_string(), "the access log lacks {field}");
    }
    assert!(!format.contains("$context.error.message"), "the access log may hold an Authorization header");
    assert!(!format.contains("$input") && !format.contains("$context.authorizer.key"), "{format}");
}

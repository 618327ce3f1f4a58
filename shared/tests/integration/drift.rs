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
/// trigger is filtered, to outbox inserts (the dispatcher) or key-item modifications (the usage
/// aggregator): every authenticated request writes a key item, so an unfiltered trigger would
/// run the dispatcher on each of them. The aggregator's failures are never lost silently.
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
                    let stream = if filters.contains("INSERT") && filters.contains("OUTBOX#") {
                        "outbox stream"
                    } else if filters.contains("SLUG#") || filters.contains("KEY#") {
                        assert!(!filters.contains("INSERT"), "{}: an aggregator counts modifications", s(name));
                        // Counts must never be lost silently: a failing batch is split to find
                        // the record, retried a bounded number of times, then kept on a queue.
                        assert_eq!(props["BisectBatchOnFunctionError"].as_bool(), Some(true), "{}: no bisect", s(name));
                        assert!(
                            props["MaximumRetryAttempts"].as_i64().is_some_and(|n| (1..=10).contains(&n)),
                            "{}: unbounded or no retries",
                            s(name)
                        );
                        assert!(
                            !props["DestinationConfig"]["OnFailure"]["Destination"].is_badvalue(),
                            "{}: no on-failure destination",
                            s(name)
                        );
                        if filters.contains("SLUG#") {
                            "click stream"
                        } else {
                            "key stream"
                        }
                    } else {
                        panic!("{}: unfiltered stream ({filters})", s(name))
                    };
                    assert!(
                        props["FunctionResponseTypes"]
                            .as_vec()
                            .is_some_and(|v| v.iter().any(|t| t.as_str() == Some("ReportBatchItemFailures"))),
                        "{}: stream without ReportBatchItemFailures",
                        s(name)
                    );
                    declared.insert((s(name).to_string(), stream.to_string()));
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
                    Trigger::KeyStream => "key stream".to_string(),
                    Trigger::ClickStream => "click stream".to_string(),
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

/// One DynamoDB statement of a role, as the template states it and as `ROLE_PARTITIONS` means
/// it: (effect, resource, condition operator, actions, `dynamodb:LeadingKeys` patterns), the
/// resource `table` or `index/<name>`, lists sorted.
type Statement = (String, String, String, Vec<String>, Vec<String>);

fn sorted(items: impl IntoIterator<Item = impl ToString>) -> Vec<String> {
    let set: BTreeSet<String> = items.into_iter().map(|i| i.to_string()).collect();
    set.into_iter().collect()
}

/// The DynamoDB statements of each function of the template, by binary, checked for the shape
/// least privilege needs on the way: one resource each; on the table only item actions (no Scan,
/// no batch), each statement bounded by `dynamodb:LeadingKeys` (`ForAllValues` on an Allow,
/// `ForAnyValue` on a Deny, so a request with any key in the denied partitions is refused); on an
/// index a Query bounded the same way, or a bare Scan; on the stream its reads only.
fn template_statements(t: &Yaml) -> BTreeMap<String, BTreeSet<Statement>> {
    let item_actions: BTreeSet<&str> = keyhive::schema::ITEM_ACTIONS.iter().copied().collect();
    let mut found = BTreeMap::new();
    for (binary, function) in functions_by_binary(t) {
        let mut declared = BTreeSet::new();
        for statement in statements(&function) {
            let actions = strings(&statement["Action"]);
            if !actions.iter().any(|a| a.starts_with("dynamodb:")) {
                continue;
            }
            assert!(actions.iter().all(|a| a.starts_with("dynamodb:")), "{binary}: {actions:?} mixes services");
            let effect = s(&statement["Effect"]).to_string();
            let resources = strings(&statement["Resource"]);
            assert_eq!(resources.len(), 1, "{binary}: one resource per DynamoDB statement, not {resources:?}");
            let resource = resources[0].as_str();
            let conditions = statement["Condition"].as_hash().cloned().unwrap_or_default();
            let bound = |operator: &str| -> Vec<String> {
                assert_eq!(conditions.len(), 1, "{binary}: {resource} takes exactly one condition operator");
                let keys = &statement["Condition"][operator];
                assert_eq!(keys.as_hash().map(|h| h.len()), Some(1), "{binary}: {operator} on {resource}");
                let patterns = strings(&keys["dynamodb:LeadingKeys"]);
                assert!(!patterns.is_empty(), "{binary}: {resource} without a dynamodb:LeadingKeys bound");
                sorted(patterns)
            };
            if resource == "Table.StreamArn" {
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
                continue;
            }
            let (resource, operator, patterns) = if resource == "Table.Arn" {
                for action in &actions {
                    assert!(item_actions.contains(action.as_str()), "{binary}: {action} on the table");
                }
                let operator = match effect.as_str() {
                    "Allow" => "ForAllValues:StringLike",
                    "Deny" => "ForAnyValue:StringLike",
                    other => panic!("{binary}: effect {other}"),
                };
                ("table".to_string(), operator.to_string(), bound(operator))
            } else if let Some(index) = resource.strip_prefix("${Table.Arn}/index/") {
                assert_eq!(effect, "Allow", "{binary}: a Deny on {resource}");
                assert_eq!(actions.len(), 1, "{binary}: one action per index statement");
                match actions[0].as_str() {
                    "dynamodb:Query" => {
                        let operator = "ForAllValues:StringLike";
                        (format!("index/{index}"), operator.to_string(), bound(operator))
                    }
                    "dynamodb:Scan" => {
                        assert!(conditions.is_empty(), "{binary}: a condition on a Scan bounds nothing");
                        (format!("index/{index}"), String::new(), Vec::new())
                    }
                    other => panic!("{binary}: {other} on {resource}"),
                }
            } else {
                panic!("{binary}: dynamodb actions on {resource}");
            };
            assert!(declared.insert((effect, resource, operator, sorted(actions), patterns)), "{binary}: a repeat");
        }
        found.insert(binary, declared);
    }
    found
}

/// The statements `ROLE_PARTITIONS` says each role has.
fn schema_statements() -> BTreeMap<String, BTreeSet<Statement>> {
    use keyhive::schema::ROLE_PARTITIONS;
    let mut expected = BTreeMap::new();
    for access in ROLE_PARTITIONS {
        let mut statements = BTreeSet::new();
        for (effect, operator, grants) in [
            ("Allow", "ForAllValues:StringLike", access.owns),
            ("Allow", "ForAllValues:StringLike", access.appends),
            ("Deny", "ForAnyValue:StringLike", access.denies),
        ] {
            for grant in grants {
                let statement = (
                    effect.to_string(),
                    "table".to_string(),
                    operator.to_string(),
                    sorted(grant.actions),
                    sorted(grant.partitions),
                );
                assert!(statements.insert(statement), "{}: a repeated grant", access.role);
            }
        }
        for index in access.indexes {
            let operator = if index.partitions.is_empty() { "" } else { "ForAllValues:StringLike" };
            let statement = (
                "Allow".to_string(),
                format!("index/{}", index.index),
                operator.to_string(),
                vec![index.action.to_string()],
                sorted(index.partitions),
            );
            assert!(statements.insert(statement), "{}: a repeated index grant", access.role);
        }
        assert!(expected.insert(access.role.to_string(), statements).is_none(), "{} twice", access.role);
    }
    expected
}

/// Least privilege on the table: each function's DynamoDB statements are exactly what the schema
/// module's `ROLE_PARTITIONS` says, statement for statement.
#[test]
fn each_role_has_exactly_the_statements_the_schema_module_grants_it() {
    let declared = template_statements(&template());
    let expected = schema_statements();
    assert_eq!(declared.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "roles");
    for (role, statements) in &expected {
        assert_eq!(&declared[role], statements, "{role}: template.yaml differs from schema::ROLE_PARTITIONS");
    }
}

/// The shapes `ROLE_PARTITIONS` promises: appends are `PutItem` plus reads; the audit trail and
/// the outbox are granted as appends only (the dispatcher's mark on outbox events excepted, an
/// update, never a put); a Scan is unbounded and only the sweep's, on GSI2; an index Query is
/// bounded.
#[test]
fn appends_are_puts_and_reads_and_only_the_sweep_scans() {
    use keyhive::schema::*;
    let reads = [GET_ITEM, QUERY];
    for access in ROLE_PARTITIONS {
        for grant in access.appends {
            assert!(grant.actions.contains(&PUT_ITEM), "{}: an append without PutItem", access.role);
            for action in grant.actions {
                assert!(*action == PUT_ITEM || reads.contains(action), "{}: {action} on {:?}", access.role, grant);
            }
        }
        for grant in access.owns {
            for trail in [AUDIT_PARTITIONS, OUTBOX_PARTITIONS] {
                if !grant.partitions.contains(&trail) {
                    continue;
                }
                assert_eq!(
                    (access.role, trail, sorted(grant.actions)),
                    ("webhook-dispatcher", OUTBOX_PARTITIONS, sorted([GET_ITEM, PUT_ITEM, UPDATE_ITEM])),
                    "{trail} is append-only"
                );
            }
        }
        for index in access.indexes {
            match index.action {
                a if a == QUERY => assert!(!index.partitions.is_empty(), "{}: unbounded Query", access.role),
                a if a == SCAN => {
                    assert_eq!((access.role, index.index), ("sandbox-sweep", GSI2), "only the sweep scans");
                    assert!(index.partitions.is_empty());
                }
                other => panic!("{}: {other} on an index", access.role),
            }
        }
    }
}

/// One sample key of each partition the schema module builds (table partitions), by builder.
fn table_partitions() -> BTreeMap<&'static str, String> {
    use keyhive::schema::*;
    let (org, env, id) = ("org_AbCdEf0123456789abcd", "live", "AbCdEf123456");
    [
        ("HEALTH_PK", HEALTH_PK.to_string()),
        ("key_pk", key_pk(id)),
        ("org_pk", org_pk(org)),
        ("audit_pk", audit_pk(org)),
        ("outbox_pk", outbox_pk(org, env)),
        ("idempotency_pk", idempotency_pk(org, env, id, "ab12")),
        ("sandbox_pk", sandbox_pk("sbx_1")),
        ("sandbox_quota_pk", sandbox_quota_pk(org, env)),
        ("link_quota_pk", link_quota_pk(org, env)),
        ("domain_quota_pk", domain_quota_pk(org, env)),
        ("webhook_quota_pk", webhook_quota_pk(org, env)),
        ("key_quota_pk", key_quota_pk(org, env)),
        ("file_quota_pk", file_quota_pk(org, env)),
        ("link_pk", link_pk("lnk_1")),
        ("slug_pk", slug_pk(OWN_LINK_DOMAIN, "promo")),
        ("domain_pk", domain_pk("dom_1")),
        ("hostname_pk", hostname_pk("go.example.com")),
        ("tenant_hostname_pk", tenant_hostname_pk(org, env, "go.example.com")),
        ("webhook_pk", webhook_pk("whk_1")),
        ("delivery_pk", delivery_pk("dlv_1")),
        ("attempts_pk", attempts_pk("whk_1")),
        ("requeues_pk", requeues_pk("whk_1")),
        ("usage_pk", usage_pk(id)),
        ("usage_org_day_pk", usage_org_day_pk(org, env, "2026-12-06")),
        ("stats_pk", stats_pk("lnk_1")),
        ("file_pk", file_pk("fil_1")),
    ]
    .into()
}

/// One sample key of each index partition, by builder, with its index.
fn index_partitions() -> BTreeMap<&'static str, (&'static str, String)> {
    use keyhive::schema::*;
    let (org, env) = ("org_AbCdEf0123456789abcd", "test");
    [
        ("org_keys_gsi1pk", (GSI1, org_keys_gsi1pk(org))),
        ("key_external_gsi1pk", (GSI1, key_external_gsi1pk(org, "crm-42"))),
        ("org_files_gsi1pk", (GSI1, org_files_gsi1pk(org, env))),
        ("key_expiry_gsi2pk", (GSI2, key_expiry_gsi2pk("2026-12-13"))),
        ("org_sandboxes_gsi1pk", (GSI1, org_sandboxes_gsi1pk(org, env))),
        ("org_links_gsi1pk", (GSI1, org_links_gsi1pk(org, env))),
        ("org_domains_gsi1pk", (GSI1, org_domains_gsi1pk(org, env))),
        ("org_webhooks_gsi1pk", (GSI1, org_webhooks_gsi1pk(org, env))),
        ("endpoint_deliveries_gsi1pk", (GSI1, endpoint_deliveries_gsi1pk("whk_1"))),
        ("running_gsi2pk", (GSI2, running_gsi2pk(org, env))),
        ("pending_events_gsi2pk", (GSI2, pending_events_gsi2pk(WORK_SHARDS - 1))),
        ("due_gsi2pk", (GSI2, due_gsi2pk(0))),
    ]
    .into()
}

/// Every partition-key builder of the schema module has its sample above: a new partition gets
/// classified here (who may do what on it) before it can ship.
#[test]
fn every_partition_builder_of_the_schema_module_is_classified() {
    let text = std::fs::read_to_string(workspace_root().join("shared/src/schema.rs")).expect("schema.rs");
    let builders: BTreeSet<String> = text
        .lines()
        .filter_map(|line| line.strip_prefix("pub fn "))
        .filter_map(|rest| rest.split('(').next())
        .filter(|name| name.ends_with("_pk") || name.ends_with("gsi1pk") || name.ends_with("gsi2pk"))
        .map(str::to_string)
        .collect();
    let classified: BTreeSet<String> = table_partitions()
        .into_keys()
        .chain(index_partitions().into_keys())
        .filter(|name| *name != "HEALTH_PK")
        .map(str::to_string)
        .collect();
    assert!(builders.len() > 20, "the builders were not found in schema.rs: {builders:?}");
    assert_eq!(builders, classified, "a partition builder of schema.rs lacks its sample in drift.rs (or the reverse)");
}

/// What `role` may do on an item of partition `key`, by `ROLE_PARTITIONS` (its Allows, less its
/// Denys): how IAM decides a single-item request, and each item of a transaction.
fn effective(role: &keyhive::schema::RoleAccess, key: &str) -> BTreeSet<&'static str> {
    let mut allowed = BTreeSet::new();
    for grant in role.owns.iter().chain(role.appends) {
        if grant.partitions.iter().any(|p| like(p, key)) {
            allowed.extend(grant.actions.iter().copied());
        }
    }
    for grant in role.denies {
        if grant.partitions.iter().any(|p| like(p, key)) {
            for action in grant.actions {
                allowed.remove(action);
            }
        }
    }
    allowed
}

/// Each role's effective actions on every partition are exactly what its store code does (see
/// functions/*/src/store.rs, shared/src/store): nothing on anybody else's partitions, its own
/// counters only, the audit trail and the outbox appended to only. Renaming a prefix in the schema
/// module fails here, not in production with AccessDenied.
#[test]
fn each_role_may_do_exactly_what_its_code_does_on_each_partition() {
    use keyhive::schema::*;
    const ALL: &[&str] = ITEM_ACTIONS;
    const SANDBOX: &[&str] = &[GET_ITEM, PUT_ITEM, UPDATE_ITEM];
    const SWEEP: &[&str] = &[GET_ITEM, UPDATE_ITEM];
    const WEBHOOK_API: &[&str] = &[GET_ITEM, PUT_ITEM, UPDATE_ITEM, DELETE_ITEM, QUERY];
    const DISPATCHER: &[&str] = &[GET_ITEM, PUT_ITEM, UPDATE_ITEM];
    const APPEND: &[&str] = &[PUT_ITEM];
    let expected: BTreeMap<&str, Vec<(&str, &[&str])>> = [
        ("health", vec![("HEALTH_PK", &[GET_ITEM][..])]),
        ("console", vec![]),
        ("authorizer", vec![("key_pk", &[UPDATE_ITEM][..])]),
        (
            "keys",
            vec![
                ("key_pk", ALL),
                ("org_pk", ALL),
                ("key_quota_pk", ALL),
                ("idempotency_pk", ALL),
                ("audit_pk", APPEND),
                ("outbox_pk", APPEND),
                ("usage_pk", &[GET_ITEM, QUERY][..]),
                ("usage_org_day_pk", &[GET_ITEM, QUERY][..]),
            ],
        ),
        (
            "sandboxes",
            vec![
                ("sandbox_pk", SANDBOX),
                ("sandbox_quota_pk", SANDBOX),
                ("idempotency_pk", SANDBOX),
                ("audit_pk", APPEND),
                ("outbox_pk", APPEND),
            ],
        ),
        (
            "sandbox-sweep",
            vec![("sandbox_pk", SWEEP), ("sandbox_quota_pk", SWEEP), ("audit_pk", APPEND), ("outbox_pk", APPEND)],
        ),
        (
            "links",
            vec![
                ("link_pk", ALL),
                ("slug_pk", ALL),
                ("domain_pk", ALL),
                ("hostname_pk", ALL),
                ("tenant_hostname_pk", ALL),
                ("link_quota_pk", ALL),
                ("domain_quota_pk", ALL),
                ("idempotency_pk", ALL),
                ("audit_pk", APPEND),
                ("outbox_pk", APPEND),
                ("stats_pk", &[GET_ITEM, QUERY][..]),
                // A preview image's use, counted on its file.
                ("file_pk", &[UPDATE_ITEM][..]),
            ],
        ),
        (
            "webhooks",
            vec![
                ("webhook_pk", WEBHOOK_API),
                ("attempts_pk", WEBHOOK_API),
                ("requeues_pk", WEBHOOK_API),
                ("delivery_pk", WEBHOOK_API),
                ("webhook_quota_pk", WEBHOOK_API),
                ("idempotency_pk", WEBHOOK_API),
                ("audit_pk", &[PUT_ITEM, QUERY][..]),
            ],
        ),
        (
            "webhook-dispatcher",
            vec![
                ("webhook_pk", DISPATCHER),
                ("attempts_pk", DISPATCHER),
                // Under WHK#* with the endpoints it updates (the webhooks resource's own).
                ("requeues_pk", DISPATCHER),
                ("delivery_pk", DISPATCHER),
                // Marks events dispatched; writes webhook.disabled when it disables an endpoint.
                ("outbox_pk", &[GET_ITEM, PUT_ITEM, UPDATE_ITEM][..]),
                ("audit_pk", APPEND),
            ],
        ),
        (
            "usage-aggregator",
            vec![("usage_pk", &[GET_ITEM, UPDATE_ITEM][..]), ("usage_org_day_pk", &[GET_ITEM, UPDATE_ITEM][..])],
        ),
        ("click-aggregator", vec![("stats_pk", &[GET_ITEM, UPDATE_ITEM, DELETE_ITEM, QUERY][..])]),
        (
            "files",
            vec![
                ("file_pk", &[GET_ITEM, PUT_ITEM, UPDATE_ITEM, DELETE_ITEM][..]),
                ("file_quota_pk", &[GET_ITEM, PUT_ITEM, UPDATE_ITEM, DELETE_ITEM][..]),
                ("idempotency_pk", &[GET_ITEM, PUT_ITEM, UPDATE_ITEM, DELETE_ITEM][..]),
                ("link_pk", &[GET_ITEM][..]),
                ("audit_pk", APPEND),
                ("outbox_pk", APPEND),
            ],
        ),
        (
            "key-notices",
            vec![("key_pk", &[GET_ITEM, UPDATE_ITEM, DELETE_ITEM][..]), ("audit_pk", APPEND), ("outbox_pk", APPEND)],
        ),
    ]
    .into();
    let roles: BTreeMap<&str, &RoleAccess> = ROLE_PARTITIONS.iter().map(|r| (r.role, r)).collect();
    assert_eq!(roles.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
    let partitions = table_partitions();
    for (role, access) in &roles {
        let mine: BTreeMap<&str, &[&str]> = expected[role].iter().copied().collect();
        for (builder, key) in &partitions {
            let want: BTreeSet<&str> = mine.get(builder).map(|a| a.iter().copied().collect()).unwrap_or_default();
            assert_eq!(effective(access, key), want, "{role} on {key} ({builder})");
        }
    }
    // No pattern is dead: each allows or denies something on a partition the builders make.
    for access in ROLE_PARTITIONS {
        for grant in access.owns.iter().chain(access.appends).chain(access.denies) {
            for pattern in grant.partitions {
                assert!(
                    partitions.values().any(|k| like(pattern, k)),
                    "{}: {pattern} matches no partition",
                    access.role
                );
            }
        }
    }
}

/// Each role queries exactly the index partitions its store code reads, and each index pattern
/// matches a partition the builders make.
#[test]
fn each_role_queries_only_the_index_partitions_it_reads() {
    use keyhive::schema::*;
    let expected: BTreeSet<(&str, &str)> = [
        ("keys", "org_keys_gsi1pk"),
        ("keys", "key_external_gsi1pk"),
        ("key-notices", "key_expiry_gsi2pk"),
        ("files", "org_files_gsi1pk"),
        ("sandboxes", "org_sandboxes_gsi1pk"),
        ("sandboxes", "running_gsi2pk"),
        ("links", "org_links_gsi1pk"),
        ("links", "org_domains_gsi1pk"),
        ("webhooks", "org_webhooks_gsi1pk"),
        ("webhooks", "endpoint_deliveries_gsi1pk"),
        ("webhook-dispatcher", "org_webhooks_gsi1pk"),
        ("webhook-dispatcher", "pending_events_gsi2pk"),
        ("webhook-dispatcher", "due_gsi2pk"),
    ]
    .into();
    let partitions = index_partitions();
    let mut queried = BTreeSet::new();
    for access in ROLE_PARTITIONS {
        for grant in access.indexes.iter().filter(|g| g.action == QUERY) {
            for pattern in grant.partitions {
                assert!(
                    partitions.values().any(|(index, key)| *index == grant.index && like(pattern, key)),
                    "{}: {pattern} matches no partition of {}",
                    access.role,
                    grant.index
                );
            }
            for (builder, (index, key)) in &partitions {
                if *index == grant.index && grant.partitions.iter().any(|p| like(p, key)) {
                    queried.insert((access.role, *builder));
                }
            }
        }
    }
    assert_eq!(queried, expected);
}

/// Each resource has its own counters: a counter partition is reached by the roles of one
/// function only (the sandbox function and its sweep share the sandbox quota), and no pattern
/// spans two resources' counters (the old shared `QUOTA#*`).
#[test]
fn each_quota_prefix_belongs_to_exactly_one_resource() {
    use keyhive::schema::*;
    let resource_of = |role: &'static str| -> &'static str {
        match role {
            "sandboxes" | "sandbox-sweep" => "sandboxes",
            "webhooks" | "webhook-dispatcher" => "webhooks",
            other => other,
        }
    };
    let owner: BTreeMap<&str, &str> = [
        ("sandbox_quota_pk", "sandboxes"),
        ("link_quota_pk", "links"),
        ("domain_quota_pk", "links"),
        ("webhook_quota_pk", "webhooks"),
        ("key_quota_pk", "keys"),
        ("file_quota_pk", "files"),
    ]
    .into();
    let partitions = table_partitions();
    let counters: BTreeMap<&str, &String> =
        partitions.iter().filter(|(b, _)| b.ends_with("_quota_pk")).map(|(b, k)| (*b, k)).collect();
    assert_eq!(counters.keys().collect::<Vec<_>>(), owner.keys().collect::<Vec<_>>());
    for (builder, key) in &counters {
        let reached: BTreeSet<&str> =
            ROLE_PARTITIONS.iter().filter(|r| !effective(r, key).is_empty()).map(|r| resource_of(r.role)).collect();
        assert_eq!(reached, BTreeSet::from([owner[builder]]), "{key}");
    }
    for access in ROLE_PARTITIONS {
        for grant in access.owns.iter().chain(access.appends) {
            for pattern in grant.partitions {
                let spans = counters.values().filter(|k| like(pattern, k)).count();
                assert!(spans <= 1, "{}: {pattern} spans {spans} resources' counters", access.role);
            }
        }
    }
}

/// The keys function owns `ORG#*`, which also matches every `ORG#<org>#AUDIT`: the template must
/// take back all but appending there with an explicit Deny (and the links function's hostname
/// registrations entirely). Every other role reaches the audit trail and the outbox through an
/// append grant only, and no role may change or remove an audit entry.
#[test]
fn the_keys_role_is_denied_changing_the_audit_trail() {
    use keyhive::schema::*;
    let keys_statements = &template_statements(&template())["keys"];
    let denies: Vec<&Statement> = keys_statements.iter().filter(|st| st.0 == "Deny").collect();
    let audit_deny = denies.iter().find(|st| st.4 == [AUDIT_PARTITIONS]).expect("a Deny on ORG#*#AUDIT");
    assert_eq!(audit_deny.2, "ForAnyValue:StringLike");
    for action in [UPDATE_ITEM, DELETE_ITEM] {
        assert!(audit_deny.3.iter().any(|a| a == action), "the Deny on the audit trail lacks {action}");
    }
    assert!(!audit_deny.3.iter().any(|a| a == PUT_ITEM), "the keys function must still append its audit entries");
    let keys = ROLE_PARTITIONS.iter().find(|r| r.role == "keys").expect("keys");
    assert!(keys.owns.iter().any(|g| g.partitions.iter().any(|p| like(p, &org_pk("org_1")))));
    let (audit, outbox) = (audit_pk("org_AbCdEf0123456789abcd"), outbox_pk("org_AbCdEf0123456789abcd", "live"));
    for access in ROLE_PARTITIONS {
        let on_audit = effective(access, &audit);
        assert!(
            [UPDATE_ITEM, DELETE_ITEM, CONDITION_CHECK_ITEM].iter().all(|a| !on_audit.contains(a)),
            "{}: {on_audit:?} on the audit trail",
            access.role
        );
        let on_outbox = effective(access, &outbox);
        if access.role != "webhook-dispatcher" {
            assert!(on_outbox.iter().all(|a| *a == PUT_ITEM), "{}: {on_outbox:?} on the outbox", access.role);
        } else {
            // It marks events dispatched and writes its own `webhook.disabled`; it never deletes one.
            assert!(!on_outbox.contains(DELETE_ITEM), "the dispatcher deletes no outbox event");
        }
    }
    // Only the authorizer, the keys function and its expiry notices reach key items.
    for access in ROLE_PARTITIONS {
        let reaches = !effective(access, &key_pk("AbCdEf123456")).is_empty();
        assert_eq!(
            reaches,
            ["authorizer", "keys", "key-notices"].contains(&access.role),
            "{} and key items",
            access.role
        );
    }
    assert!(like(AUDIT_PARTITIONS, &audit) && !like(AUDIT_PARTITIONS, &org_pk("org_1")));
    // Usage is counted by the aggregator alone; the keys function reads it; nobody else sees it.
    for access in ROLE_PARTITIONS {
        let on_usage = effective(access, &usage_pk("AbCdEf123456"));
        let expected: &[&str] = match access.role {
            "usage-aggregator" => &[GET_ITEM, UPDATE_ITEM],
            "keys" => &[GET_ITEM, QUERY],
            _ => &[],
        };
        assert_eq!(on_usage, expected.iter().copied().collect(), "{} on usage", access.role);
    }
}

/// The per-organization ceilings: the template's parameters have the configuration's defaults
/// and bounds, and each reaches the function that enforces it as its `KEYHIVE_MAX_*` variable.
#[test]
fn the_ceiling_parameters_match_the_configuration_and_reach_their_functions() {
    use keyhive::config::{Limits, DEFAULT_SANDBOX_QUOTA, MAX_WEBHOOKS_CEILING};
    let t = template();
    let limits = Limits::default();
    let number = |y: &Yaml| y.as_i64().unwrap_or_else(|| panic!("a number, got {y:?}"));
    for (parameter, default, most, variable, binaries) in [
        ("SandboxQuota", DEFAULT_SANDBOX_QUOTA, None, "KEYHIVE_SANDBOX_QUOTA", &["sandboxes"][..]),
        ("MaxKeys", limits.keys, Some(1_000_000), "KEYHIVE_MAX_KEYS", &["keys"][..]),
        ("MaxLinks", limits.links, Some(100_000_000), "KEYHIVE_MAX_LINKS", &["links"][..]),
        ("MaxDomains", limits.domains, Some(10_000), "KEYHIVE_MAX_DOMAINS", &["links"][..]),
        ("MaxWebhooks", limits.webhooks, Some(MAX_WEBHOOKS_CEILING), "KEYHIVE_MAX_WEBHOOKS", &["webhooks"][..]),
        ("MaxFiles", limits.files, Some(1_000_000), "KEYHIVE_MAX_FILES", &["files"][..]),
    ] {
        let p = &t["Parameters"][parameter];
        assert_eq!(s(&p["Type"]), "Number", "{parameter}");
        assert_eq!(number(&p["Default"]), i64::from(default), "{parameter} Default");
        assert_eq!(number(&p["MinValue"]), 1, "{parameter} MinValue");
        if let Some(most) = most {
            assert_eq!(number(&p["MaxValue"]), i64::from(most), "{parameter} MaxValue");
        }
        let set_on: Vec<String> = functions_by_binary(&t)
            .into_iter()
            .filter(|(_, f)| !f["Properties"]["Environment"]["Variables"][variable].is_badvalue())
            .map(|(binary, f)| {
                assert_eq!(
                    s(&f["Properties"]["Environment"]["Variables"][variable]),
                    parameter,
                    "{binary}: {variable}"
                );
                binary
            })
            .collect();
        assert_eq!(set_on, binaries, "{variable}");
        assert!(t["Globals"]["Function"]["Environment"]["Variables"][variable].is_badvalue());
    }
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
    assert_eq!(readers.get("CursorSecret"), Some(&set(&["files", "keys", "links", "sandboxes", "webhooks"])));
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

//! Sandboxes and their templates: the typed values the rules work on.

use keyhive::auth::Environment;
use keyhive::model::{rfc3339, OrgId, Tenant};
use serde_json::{json, Value};
use time::OffsetDateTime;

/// The longest timeout any sandbox may have (24 h); a template may allow less.
pub const MAX_TIMEOUT_SECONDS: i64 = 86_400;

keyhive::prefixed_id!(SandboxId, "sbx", "a sandbox's id");

/// A sandbox's lifecycle: `running` until killed or past its deadline. The stored status says
/// `running` until the sweep (or a creation needing the slot) records the expiry; reads compute
/// `expired` from the deadline at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Running,
    Killed,
    Expired,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Killed => "killed",
            Status::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "running" => Some(Status::Running),
            "killed" => Some(Status::Killed),
            "expired" => Some(Status::Expired),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sandbox {
    pub id: SandboxId,
    pub org_id: OrgId,
    pub environment: Environment,
    pub template_id: String,
    /// As stored; `status_at` is what a reader sees.
    pub status: Status,
    pub timeout_seconds: i64,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// When it was killed or recorded expired.
    pub ended_at: Option<OffsetDateTime>,
}

impl Sandbox {
    /// Whose sandbox this is.
    pub fn tenant(&self) -> Tenant {
        Tenant::new(self.org_id.clone(), self.environment)
    }

    /// The status at `now`: a running sandbox past its deadline is expired, swept or not.
    pub fn status_at(&self, now: OffsetDateTime) -> Status {
        match self.status {
            Status::Running if self.expires_at <= now => Status::Expired,
            status => status,
        }
    }

    pub fn to_json(&self, now: OffsetDateTime) -> Value {
        json!({
            "id": self.id.as_str(),
            "template_id": self.template_id,
            "status": self.status_at(now).as_str(),
            "created_at": rfc3339(self.created_at),
            "expires_at": rfc3339(self.expires_at),
            "timeout_seconds": self.timeout_seconds,
        })
    }
}

/// One entry of the template catalog (the same for every organization).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Template {
    pub id: &'static str,
    pub name: &'static str,
    pub language: &'static str,
    pub default_timeout_seconds: i64,
    pub max_timeout_seconds: i64,
    pub vcpu: u32,
    pub memory_mb: u32,
}

impl Template {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "language": self.language,
            "default_timeout_seconds": self.default_timeout_seconds,
            "max_timeout_seconds": self.max_timeout_seconds,
            "vcpu": self.vcpu,
            "memory_mb": self.memory_mb,
        })
    }
}

/// The catalog, including HopX's example templates `52` and `73`.
pub static TEMPLATES: &[Template] = &[
    Template {
        id: "52",
        name: "Python 3.12",
        language: "python",
        default_timeout_seconds: 3600,
        max_timeout_seconds: MAX_TIMEOUT_SECONDS,
        vcpu: 2,
        memory_mb: 2048,
    },
    Template {
        id: "73",
        name: "Node.js 22",
        language: "javascript",
        default_timeout_seconds: 3600,
        max_timeout_seconds: MAX_TIMEOUT_SECONDS,
        vcpu: 2,
        memory_mb: 2048,
    },
    Template {
        id: "88",
        name: "Go 1.23",
        language: "go",
        default_timeout_seconds: 1800,
        max_timeout_seconds: MAX_TIMEOUT_SECONDS,
        vcpu: 4,
        memory_mb: 4096,
    },
    Template {
        id: "12",
        name: "Ubuntu 24.04 shell",
        language: "bash",
        default_timeout_seconds: 600,
        max_timeout_seconds: 7200,
        vcpu: 1,
        memory_mb: 1024,
    },
];

pub fn template(id: &str) -> Option<&'static Template> {
    TEMPLATES.iter().find(|t| t.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_sandbox_reads_expired_from_its_deadline_on() {
        let t0 = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let sandbox = Sandbox {
            id: SandboxId::generate(),
            org_id: OrgId::generate(),
            environment: Environment::Live,
            template_id: "52".into(),
            status: Status::Running,
            timeout_seconds: 1,
            created_at: t0,
            expires_at: t0 + time::Duration::seconds(1),
            ended_at: None,
        };
        assert_eq!(sandbox.status_at(t0), Status::Running);
        assert_eq!(sandbox.status_at(t0 + time::Duration::seconds(1)), Status::Expired);
        let killed = Sandbox { status: Status::Killed, ..sandbox };
        assert_eq!(killed.status_at(t0 + time::Duration::days(1)), Status::Killed);
    }

    #[test]
    fn ids_parse_only_in_their_shape_and_the_catalog_has_hopxs_examples() {
        let id = SandboxId::generate();
        assert_eq!(SandboxId::parse(id.as_str()), Some(id));
        for bad in ["", "sbx_", "lnk_abc", "sbx_a/b", "sbx_ä"] {
            assert_eq!(SandboxId::parse(bad), None, "{bad}");
        }
        assert!(template("52").is_some() && template("73").is_some() && template("99").is_none());
        assert!(TEMPLATES.iter().all(|t| t.default_timeout_seconds <= t.max_timeout_seconds));
    }
}

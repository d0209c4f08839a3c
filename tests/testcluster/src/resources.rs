//! The resource types the server knows: the modelled ones in one table here, the ones stored
//! without behaviour in [`crate::generic::KINDS`]. Routing, discovery, OpenAPI and seeding all
//! read [`all`], so adding a kind is one line. Every kind is namespaced; the only
//! cluster-scoped resource, `namespaces`, is derived from the objects and served apart.

/// One served resource type.
#[derive(Debug, PartialEq, Eq)]
pub struct ResourceDef {
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub short_names: &'static [&'static str],
    /// Has a `/status` subresource: writes to the main resource then leave `status` alone.
    pub status: bool,
}

pub const SERVICES: &ResourceDef = &RESOURCES[0];
pub const EVENTS: &ResourceDef = &RESOURCES[1];
pub const POOLS: &ResourceDef = &RESOURCES[2];
pub const DEPLOYMENTS: &ResourceDef = &RESOURCES[5];
pub const DAEMONSETS: &ResourceDef = &RESOURCES[6];

pub const RESOURCES: [ResourceDef; 7] = [
    def("", "v1", "services", "service", "Service", &["svc"], true),
    def("", "v1", "events", "event", "Event", &["ev"], false),
    def(
        "metallb.io",
        "v1beta1",
        "ipaddresspools",
        "ipaddresspool",
        "IPAddressPool",
        &[],
        true,
    ),
    def(
        "metallb.io",
        "v1beta1",
        "l2advertisements",
        "l2advertisement",
        "L2Advertisement",
        &[],
        false,
    ),
    def(
        "metallb.io",
        "v1beta1",
        "bgpadvertisements",
        "bgpadvertisement",
        "BGPAdvertisement",
        &[],
        false,
    ),
    def(
        "apps",
        "v1",
        "deployments",
        "deployment",
        "Deployment",
        &["deploy"],
        true,
    ),
    def(
        "apps",
        "v1",
        "daemonsets",
        "daemonset",
        "DaemonSet",
        &["ds"],
        true,
    ),
];

pub(crate) const fn def(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    singular: &'static str,
    kind: &'static str,
    short_names: &'static [&'static str],
    status: bool,
) -> ResourceDef {
    ResourceDef {
        group,
        version,
        plural,
        singular,
        kind,
        short_names,
        status,
    }
}

impl ResourceDef {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `services` or `ipaddresspools.metallb.io`: how error messages name the resource.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// Built-in kinds take strategic merge patches; custom resources only JSON merge patches.
    pub fn builtin(&self) -> bool {
        crate::generic::BUILTIN_GROUPS.contains(&self.group)
    }
}

/// Every served kind: the modelled ones first, then the generic ones.
pub fn all() -> impl Iterator<Item = &'static ResourceDef> {
    RESOURCES.iter().chain(crate::generic::KINDS.iter())
}

pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceDef> {
    all().find(|d| d.group == group && d.version == version && d.plural == plural)
}

pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static ResourceDef> {
    all().find(|d| d.api_version() == api_version && d.kind == kind)
}

//! Where an Azure Functions process runs, from the App Service environment: the resource
//! every span carries, and the function app's identity the invocation spans name.
//!
//! | variable | gives |
//! |---|---|
//! | `WEBSITE_SITE_NAME` | the function app: `service.name` (unless `OTEL_SERVICE_NAME`), the `<app>/` of `faas.name` |
//! | `REGION_NAME` | `cloud.region`: the display name (`West Europe`) as the region's id (`westeurope`), left out when it names no known region |
//! | `WEBSITE_INSTANCE_ID` | `faas.instance` and `service.instance.id` |
//! | `WEBSITE_OWNER_NAME` | the subscription (`{subscription}+{webspace}`), for `cloud.resource_id` |
//! | `WEBSITE_RESOURCE_GROUP` | the resource group, for `cloud.resource_id` |
//!
//! One process serves every function of the app, so `faas.name` (`<app>/<function>`) and
//! `cloud.resource_id` are attributes of each invocation span rather than of the resource.

use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;
use opentelemetry_semantic_conventions::attribute::{
    CLOUD_PLATFORM, CLOUD_PROVIDER, CLOUD_REGION, FAAS_INSTANCE, SERVICE_INSTANCE_ID, SERVICE_NAME,
};

use crate::config::Config;

/// `cloud.platform` of Azure Functions.
pub(crate) const PLATFORM: &str = "azure.functions";

/// The function app a process belongs to, as its environment describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppIdentity {
    /// `WEBSITE_SITE_NAME`.
    pub app_name: Option<String>,
    /// The region's id (`westeurope`), from `REGION_NAME`'s display name (`West Europe`).
    pub region: Option<String>,
    /// `WEBSITE_INSTANCE_ID`.
    pub instance_id: Option<String>,
    /// The subscription id, the part of `WEBSITE_OWNER_NAME` before `+`.
    pub subscription_id: Option<String>,
    /// `WEBSITE_RESOURCE_GROUP`.
    pub resource_group: Option<String>,
}

impl AppIdentity {
    /// The identity the process environment gives.
    pub fn from_env() -> Self {
        AppIdentity::from_lookup(|key| std::env::var(key).ok())
    }

    /// The identity `lookup` gives, for tests.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |key: &str| {
            lookup(key)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        AppIdentity {
            app_name: get("WEBSITE_SITE_NAME"),
            region: get("REGION_NAME").and_then(|name| region_id(&name)),
            instance_id: get("WEBSITE_INSTANCE_ID"),
            subscription_id: get("WEBSITE_OWNER_NAME")
                .and_then(|owner| owner.split_once('+').map(|(s, _)| s.to_owned()))
                .filter(|s| !s.is_empty()),
            resource_group: get("WEBSITE_RESOURCE_GROUP"),
        }
    }

    /// `faas.name` of `function`: `<app>/<function>`, or the function alone when the app is
    /// not known.
    pub fn faas_name(&self, function: &str) -> String {
        match &self.app_name {
            Some(app) => format!("{app}/{function}"),
            None => function.to_owned(),
        }
    }

    /// `cloud.resource_id` of `function`, when the subscription, resource group and app are
    /// known.
    pub fn resource_id(&self, function: &str) -> Option<String> {
        match (&self.subscription_id, &self.resource_group, &self.app_name) {
            (Some(subscription), Some(group), Some(app)) => Some(format!(
                "/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Web/sites/{app}/functions/{function}"
            )),
            _ => None,
        }
    }

    /// The resource of a process of this app, with the configured attributes on top.
    pub fn resource(&self, config: &Config) -> Resource {
        let mut attributes = vec![
            KeyValue::new(CLOUD_PROVIDER, "azure"),
            KeyValue::new(CLOUD_PLATFORM, PLATFORM),
        ];
        if let Some(region) = &self.region {
            attributes.push(KeyValue::new(CLOUD_REGION, region.clone()));
        }
        if let Some(instance) = &self.instance_id {
            attributes.push(KeyValue::new(FAAS_INSTANCE, instance.clone()));
            attributes.push(KeyValue::new(SERVICE_INSTANCE_ID, instance.clone()));
        }
        if let Some(app) = &self.app_name {
            attributes.push(KeyValue::new(SERVICE_NAME, app.clone()));
        }
        let platform = Resource::builder_empty()
            .with_attributes(attributes)
            .build();
        crate::resource::build(config, platform)
    }
}

/// The Azure regions' ids (`az account list-locations --query "[].name"`), public cloud,
/// Azure Government and Azure China.
const REGIONS: &[&str] = &[
    "australiacentral",
    "australiacentral2",
    "australiaeast",
    "australiasoutheast",
    "austriaeast",
    "belgiumcentral",
    "brazilsouth",
    "brazilsoutheast",
    "canadacentral",
    "canadaeast",
    "centralindia",
    "centralus",
    "centraluseuap",
    "chilecentral",
    "eastasia",
    "eastus",
    "eastus2",
    "eastus2euap",
    "francecentral",
    "francesouth",
    "germanynorth",
    "germanywestcentral",
    "indonesiacentral",
    "israelcentral",
    "italynorth",
    "japaneast",
    "japanwest",
    "jioindiacentral",
    "jioindiawest",
    "koreacentral",
    "koreasouth",
    "malaysiawest",
    "mexicocentral",
    "newzealandnorth",
    "northcentralus",
    "northeurope",
    "norwayeast",
    "norwaywest",
    "polandcentral",
    "qatarcentral",
    "southafricanorth",
    "southafricawest",
    "southcentralus",
    "southeastasia",
    "southindia",
    "spaincentral",
    "swedencentral",
    "swedensouth",
    "switzerlandnorth",
    "switzerlandwest",
    "uaecentral",
    "uaenorth",
    "uksouth",
    "ukwest",
    "westcentralus",
    "westeurope",
    "westindia",
    "westus",
    "westus2",
    "westus3",
    "usgovarizona",
    "usgovtexas",
    "usgovvirginia",
    "usdodcentral",
    "usdodeast",
    "chinaeast",
    "chinaeast2",
    "chinaeast3",
    "chinanorth",
    "chinanorth2",
    "chinanorth3",
];

/// The id of the region `REGION_NAME` names. App Service sets the display name
/// (`West Europe`, `East US 2`), and a region's id is its display name in lower case without
/// spaces; a name that gives no known id is left out rather than exported as `cloud.region`,
/// whose values are ids.
pub(crate) fn region_id(name: &str) -> Option<String> {
    let id: String = name
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if REGIONS.contains(&id.as_str()) {
        return Some(id);
    }
    tracing::debug!(target: "otel_faas", "REGION_NAME={name:?} names no known Azure region: no cloud.region");
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::Key;

    fn identity() -> AppIdentity {
        AppIdentity::from_lookup(|key| {
            Some(
                match key {
                    "WEBSITE_SITE_NAME" => "orders-app",
                    "REGION_NAME" => "West Europe",
                    "WEBSITE_INSTANCE_ID" => "a1b2c3",
                    "WEBSITE_OWNER_NAME" => "8f3e-sub+orders-rg-WestEuropewebspace-Linux",
                    "WEBSITE_RESOURCE_GROUP" => "orders-rg",
                    _ => return None,
                }
                .to_owned(),
            )
        })
    }

    #[test]
    fn the_function_is_named_within_its_app() {
        let app = identity();
        assert_eq!(app.faas_name("ProcessOrder"), "orders-app/ProcessOrder");
        assert_eq!(
            app.resource_id("ProcessOrder").as_deref(),
            Some(
                "/subscriptions/8f3e-sub/resourceGroups/orders-rg/providers/Microsoft.Web/sites/orders-app/functions/ProcessOrder"
            )
        );
        assert_eq!(AppIdentity::default().faas_name("f"), "f");
        assert_eq!(AppIdentity::default().resource_id("f"), None);
    }

    #[test]
    fn a_region_display_name_becomes_its_id_or_nothing() {
        assert_eq!(region_id("West Europe").as_deref(), Some("westeurope"));
        assert_eq!(region_id("East US 2").as_deref(), Some("eastus2"));
        assert_eq!(
            region_id("USGov Virginia").as_deref(),
            Some("usgovvirginia")
        );
        assert_eq!(region_id("northeurope").as_deref(), Some("northeurope"));
        assert_eq!(region_id("Atlantis Central"), None);
        let unknown = AppIdentity::from_lookup(|key| (key == "REGION_NAME").then(|| "Mars".into()));
        assert_eq!(unknown.region, None);
    }

    #[test]
    fn the_resource_names_azure_functions_and_the_app() {
        let resource = identity().resource(&Config::from_lookup(|_| None));
        let get = |k: &'static str| {
            resource
                .get(&Key::from_static_str(k))
                .map(|v| v.to_string())
        };
        assert_eq!(get("cloud.provider").as_deref(), Some("azure"));
        assert_eq!(get("cloud.platform").as_deref(), Some("azure.functions"));
        assert_eq!(get("cloud.region").as_deref(), Some("westeurope"));
        assert_eq!(get("faas.instance").as_deref(), Some("a1b2c3"));
        assert_eq!(get("service.instance.id").as_deref(), Some("a1b2c3"));
        assert_eq!(get("service.name").as_deref(), Some("orders-app"));
    }
}

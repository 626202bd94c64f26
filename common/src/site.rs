//! placeholder until the site profile lands
use serde::Deserialize;
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    pub install_root: Option<String>,
}

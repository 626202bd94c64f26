//! Where a Maestro installation keeps its files: the site profile.
//!
//! L-Soft documents the layout only in pieces (see
//! `reference/maestro-facts.md`), so every path here has a default and every
//! default can be overridden in the `[site]` section of the configuration.
//! Defaults that are guesses rather than documented facts say so.
//!
//! Paths are kept as text with a [`PathStyle`] rather than as [`PathBuf`]s:
//! a tool on Linux may describe a Windows server it reaches over SSH, and a
//! `PathBuf` can only speak the style of the host it runs on.
//!
//! # The `[site]` keys
//!
//! Relative paths are relative to `install_root`; absolute ones are used as
//! given. On Windows style, `/` is accepted and turned into `\`.
//!
//! | key | default (maestro-4) | documented? |
//! |---|---|---|
//! | `install_root` | `/opt/lsoft/maestro`, `C:\Program Files\L-Soft\Maestro` | guess |
//! | `path_style` | the OS the tool runs on | |
//! | `profile` | `maestro-4`; `maestro-2` is the 1.x-2.1 Windows "Application Server" layout | |
//! | `hub_home`, `lui_home`, `tracker_home` | `hub`, `lui`, `trk` | yes |
//! | `db_home` | `<lui_home>/database` (the internal MySQL) | yes |
//! | `hub_ini`, `lui_ini`, `tracker_ini` | `<home>/hub.ini`, `<home>/lui.ini`, `<home>/tracker.ini` | yes |
//! | `tomcat_ini` (all three), `hub_tomcat_ini`, `lui_tomcat_ini`, `tracker_tomcat_ini` | `<home>/tomcat.ini` | guess |
//! | `log_dir` (all three), `hub_log_dir`, `lui_log_dir`, `tracker_log_dir` | `<home>/logs`, or `<home>/log` when only that exists | yes (both names) |
//! | `hub_backup_dir`, `lui_backup_dir`, `tracker_backup_dir` | `<home>/backup` | yes |
//! | `hub_temp_dir`, `lui_temp_dir`, `tracker_temp_dir` | `<home>/temp` | guess |
//! | `db_data_dir` | `<db_home>/data` | guess |
//! | `db_log_file` | `<db_data_dir>/<short host name>.err` (MySQL's default) | guess |
//! | `hubreg_dir`, `accountreg_dir` | `<hub_home>/hubreg`, `<hub_home>/accountreg` | yes |
//! | `ini_encoding` | `iso-8859-1` (or `utf-8`) | yes (platform default) |
//!
//! A per-component key wins over the key for all three (`lui_log_dir` over
//! `log_dir`). The `maestro-2` profile differs only in the default install
//! root (`C:\Program Files\L-Soft\Application Server`; none for Unix paths,
//! so `install_root` must be set there) and in preferring `log` to `logs`.

use crate::ini::Encoding;
use chrono::NaiveDate;
use serde::Deserialize;
use std::fmt;
use std::path::PathBuf;

/// How the paths of the described installation are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PathStyle {
    Unix,
    Windows,
}

impl PathStyle {
    /// The style of the OS this tool runs on.
    pub fn host() -> PathStyle {
        if cfg!(windows) {
            PathStyle::Windows
        } else {
            PathStyle::Unix
        }
    }

    pub fn separator(self) -> char {
        match self {
            PathStyle::Unix => '/',
            PathStyle::Windows => '\\',
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PathStyle::Unix => "unix",
            PathStyle::Windows => "windows",
        }
    }
}

impl fmt::Display for PathStyle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A part of Maestro with files of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Component {
    Hub,
    Lui,
    Tracker,
    /// The internal MySQL database that the LUI runs.
    Db,
}

impl Component {
    pub const ALL: [Component; 4] = [
        Component::Hub,
        Component::Lui,
        Component::Tracker,
        Component::Db,
    ];

    /// The three Java components, which share one folder structure.
    pub const APPLICATIONS: [Component; 3] = [Component::Hub, Component::Lui, Component::Tracker];

    pub fn as_str(self) -> &'static str {
        match self {
            Component::Hub => "hub",
            Component::Lui => "lui",
            Component::Tracker => "tracker",
            Component::Db => "db",
        }
    }

    fn index(self) -> usize {
        match self {
            Component::Hub => 0,
            Component::Lui => 1,
            Component::Tracker => 2,
            Component::Db => 3,
        }
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Which generation of Maestro's folder layout an installation has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Profile {
    /// Maestro 3.0 and later: one folder a component under the install root.
    #[default]
    Maestro4,
    /// Maestro 1.x-2.1 on Windows: the components under
    /// `\Program Files\L-Soft\Application Server`, logs in `log` folders.
    Maestro2,
}

impl Profile {
    pub fn parse(name: &str) -> Option<Profile> {
        match name {
            "maestro-4" => Some(Profile::Maestro4),
            "maestro-2" => Some(Profile::Maestro2),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Maestro4 => "maestro-4",
            Profile::Maestro2 => "maestro-2",
        }
    }

    fn default_install_root(self, style: PathStyle) -> Option<&'static str> {
        match (self, style) {
            (Profile::Maestro4, PathStyle::Unix) => Some("/opt/lsoft/maestro"),
            (Profile::Maestro4, PathStyle::Windows) => Some(r"C:\Program Files\L-Soft\Maestro"),
            (Profile::Maestro2, PathStyle::Windows) => {
                Some(r"C:\Program Files\L-Soft\Application Server")
            }
            // 2.x was a Windows layout; any Unix root would be made up.
            (Profile::Maestro2, PathStyle::Unix) => None,
        }
    }

    /// Log folder names, the one a fresh install of this generation uses first.
    fn log_folder_names(self) -> [&'static str; 2] {
        match self {
            Profile::Maestro4 => ["logs", "log"],
            Profile::Maestro2 => ["log", "logs"],
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Where Maestro is installed and how its folders are laid out: the site
/// profile every tool reads. Relative paths are relative to `install_root`;
/// Windows-style paths accept `/` and are written with `\`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// Where Maestro is installed. Default `/opt/lsoft/maestro` on Linux, `C:\Program Files\L-Soft\Maestro` on Windows: a guess, set it.
    pub install_root: Option<String>,
    /// How the installation's paths are written: `unix` or `windows`. Default: the system the tool runs on.
    pub path_style: Option<PathStyle>,
    /// The folder layout: `maestro-4` (Maestro 3.0 and later, the default) or `maestro-2` (the 1.x to 2.1 Windows "Application Server" layout, preferring `log` folders).
    pub profile: Option<String>,
    /// The HUB's home folder. Default `hub`.
    pub hub_home: Option<String>,
    /// The LUI's home folder. Default `lui`.
    pub lui_home: Option<String>,
    /// The Tracker's home folder. Default `trk`.
    pub tracker_home: Option<String>,
    /// The internal database's folder. Default `<lui_home>/database`.
    pub db_home: Option<String>,
    /// The HUB's INI file. Default `<hub_home>/hub.ini`.
    pub hub_ini: Option<String>,
    /// The LUI's INI file. Default `<lui_home>/lui.ini`.
    pub lui_ini: Option<String>,
    /// The Tracker's INI file. Default `<tracker_home>/tracker.ini`.
    pub tracker_ini: Option<String>,
    /// The Tomcat INI file of every component where no component's own is set. Default `<home>/tomcat.ini` (a guess).
    pub tomcat_ini: Option<String>,
    /// The HUB's Tomcat INI file. Default: `tomcat_ini`, else `<hub_home>/tomcat.ini`.
    pub hub_tomcat_ini: Option<String>,
    /// The LUI's Tomcat INI file. Default: `tomcat_ini`, else `<lui_home>/tomcat.ini`.
    pub lui_tomcat_ini: Option<String>,
    /// The Tracker's Tomcat INI file. Default: `tomcat_ini`, else `<tracker_home>/tomcat.ini`.
    pub tracker_tomcat_ini: Option<String>,
    /// The log folder of every component where no component's own is set. Default `<home>/logs`, or `<home>/log` where only that exists.
    pub log_dir: Option<String>,
    /// The HUB's log folder (`HUB-yyyymmdd.LOG`). Default: `log_dir`, else `<hub_home>/logs`.
    pub hub_log_dir: Option<String>,
    /// The LUI's log folder (`LUI-yyyymmdd.LOG`). Default: `log_dir`, else `<lui_home>/logs`.
    pub lui_log_dir: Option<String>,
    /// The Tracker's log folder (`TRACKER-yyyymmdd.LOG`). Default: `log_dir`, else `<tracker_home>/logs`.
    pub tracker_log_dir: Option<String>,
    /// The HUB's backup folder, left out of snapshot checks. Default `<hub_home>/backup`.
    pub hub_backup_dir: Option<String>,
    /// The LUI's backup folder, left out of snapshot checks. Default `<lui_home>/backup`.
    pub lui_backup_dir: Option<String>,
    /// The Tracker's backup folder, left out of snapshot checks. Default `<tracker_home>/backup`.
    pub tracker_backup_dir: Option<String>,
    /// The HUB's temporary folder, left out of snapshot checks. Default `<hub_home>/temp` (a guess).
    pub hub_temp_dir: Option<String>,
    /// The LUI's temporary folder, left out of snapshot checks. Default `<lui_home>/temp` (a guess).
    pub lui_temp_dir: Option<String>,
    /// The Tracker's temporary folder, left out of snapshot checks. Default `<tracker_home>/temp` (a guess).
    pub tracker_temp_dir: Option<String>,
    /// The database's data folder. Default `<db_home>/data` (a guess).
    pub db_data_dir: Option<String>,
    /// The MySQL/MariaDB error log (`maestro-logscan --component db`). Default `<db_data_dir>/<short host name>.err`, MySQL's default name.
    pub db_log_file: Option<String>,
    /// The HUB registry. Default `<hub_home>/hubreg`.
    pub hubreg_dir: Option<String>,
    /// The HUB's account registry. Default `<hub_home>/accountreg`.
    pub accountreg_dir: Option<String>,
    /// How the INI files are encoded: `iso-8859-1` (the default, as Java reads them) or `utf-8`.
    pub ini_encoding: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SiteError {
    #[error("site.profile: unknown profile {value:?} (expected \"maestro-4\" or \"maestro-2\")")]
    UnknownProfile { value: String },
    #[error(
        "site.ini_encoding: unknown encoding {value:?} (expected \"iso-8859-1\" or \"utf-8\")"
    )]
    UnknownEncoding { value: String },
    #[error("site.{key}: {value:?} {reason}")]
    InvalidPath {
        key: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error(
        "site.install_root: profile {profile} has no default install root for {style} paths; \
         set site.install_root"
    )]
    NoDefaultInstallRoot { profile: Profile, style: PathStyle },
    #[error(
        "site.db_log_file: the host name is unknown, so the default \
         <db_data_dir>/<host name>.err cannot be named; set site.db_log_file"
    )]
    UnknownHostName,
}

/// How a path starts, which decides what joining onto it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Anchor {
    Relative,
    /// `/x` on Unix, `\x` on Windows (the root of the current drive).
    Root,
    /// `C:x`: relative to the current folder of drive C.
    Drive(char),
    /// `C:\x`
    DriveRoot(char),
    /// `\\server\share\x`
    Unc,
}

struct Split<'a> {
    anchor: Anchor,
    parts: Vec<&'a str>,
}

fn split(text: &str, style: PathStyle) -> Split<'_> {
    let sep = style.separator();
    let (anchor, rest) = match style {
        PathStyle::Unix => match text.strip_prefix('/') {
            Some(rest) => (Anchor::Root, rest),
            None => (Anchor::Relative, text),
        },
        PathStyle::Windows => {
            let mut chars = text.chars();
            match (chars.next(), chars.next(), chars.next()) {
                (Some('\\'), Some('\\'), _) => (Anchor::Unc, &text[2..]),
                (Some('\\'), _, _) => (Anchor::Root, &text[1..]),
                (Some(d), Some(':'), Some('\\')) if d.is_ascii_alphabetic() => {
                    (Anchor::DriveRoot(d), &text[3..])
                }
                (Some(d), Some(':'), _) if d.is_ascii_alphabetic() => {
                    (Anchor::Drive(d), &text[2..])
                }
                _ => (Anchor::Relative, text),
            }
        }
    };
    let parts = rest
        .split(sep)
        .filter(|part| !part.is_empty() && *part != ".")
        .collect();
    Split { anchor, parts }
}

/// A path on the Maestro host, in that host's style.
///
/// Always normalised: one separator between parts, no `.` parts, no
/// trailing separator, and on Windows style `\` only. `..` is kept, since
/// resolving it without the file system would be wrong across symlinks.
/// Equality is textual; [`starts_with`](Self::starts_with) ignores ASCII case
/// on Windows style, as NTFS does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SitePath {
    text: String,
    style: PathStyle,
}

impl SitePath {
    pub fn new(text: &str, style: PathStyle) -> SitePath {
        let text = match style {
            PathStyle::Unix => text.to_owned(),
            PathStyle::Windows => text.replace('/', "\\"),
        };
        let Split { anchor, parts } = split(&text, style);
        SitePath {
            text: render(anchor, &parts, style),
            style,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn style(&self) -> PathStyle {
        self.style
    }

    pub fn is_absolute(&self) -> bool {
        match split(&self.text, self.style).anchor {
            Anchor::Root => self.style == PathStyle::Unix,
            Anchor::DriveRoot(_) | Anchor::Unc => true,
            Anchor::Relative | Anchor::Drive(_) => false,
        }
    }

    /// `rel` under this path; like [`Path::join`](std::path::Path::join), a `rel` that is not
    /// plainly relative (absolute, or anchored to a drive) replaces it.
    pub fn join(&self, rel: &str) -> SitePath {
        let rel = SitePath::new(rel, self.style);
        let Split { anchor, parts } = split(&rel.text, self.style);
        if anchor != Anchor::Relative {
            return rel;
        }
        let base = split(&self.text, self.style);
        let mut all = base.parts;
        all.extend(parts);
        SitePath {
            text: render(base.anchor, &all, self.style),
            style: self.style,
        }
    }

    /// The path without its last part; `None` at a root or for a single
    /// relative part.
    pub fn parent(&self) -> Option<SitePath> {
        let Split { anchor, mut parts } = split(&self.text, self.style);
        if parts.pop().is_none() || (parts.is_empty() && anchor == Anchor::Relative) {
            return None;
        }
        Some(SitePath {
            text: render(anchor, &parts, self.style),
            style: self.style,
        })
    }

    pub fn file_name(&self) -> Option<&str> {
        split(&self.text, self.style).parts.last().copied()
    }

    /// Whether `base` is this path or one of its ancestors, part by part
    /// (`/a/bc` is not under `/a/b`).
    pub fn starts_with(&self, base: &SitePath) -> bool {
        if self.style != base.style {
            return false;
        }
        let same = |a: &str, b: &str| match self.style {
            PathStyle::Unix => a == b,
            PathStyle::Windows => a.eq_ignore_ascii_case(b),
        };
        let mine = split(&self.text, self.style);
        let theirs = split(&base.text, base.style);
        let anchors_match = match (mine.anchor, theirs.anchor) {
            (Anchor::Drive(a), Anchor::Drive(b)) | (Anchor::DriveRoot(a), Anchor::DriveRoot(b)) => {
                a.eq_ignore_ascii_case(&b)
            }
            (a, b) => a == b,
        };
        anchors_match
            && theirs.parts.len() <= mine.parts.len()
            && theirs
                .parts
                .iter()
                .zip(&mine.parts)
                .all(|(b, m)| same(b, m))
    }

    /// The path for this host's file system; meaningful only when the style
    /// is the host's.
    pub fn to_path_buf(&self) -> PathBuf {
        PathBuf::from(&self.text)
    }
}

fn render(anchor: Anchor, parts: &[&str], style: PathStyle) -> String {
    let sep = style.separator();
    let mut text = match anchor {
        Anchor::Relative => String::new(),
        Anchor::Root => sep.to_string(),
        Anchor::Drive(d) => format!("{d}:"),
        Anchor::DriveRoot(d) => format!("{d}:{sep}"),
        Anchor::Unc => format!("{sep}{sep}"),
    };
    text.push_str(&parts.join(&sep.to_string()));
    if text.is_empty() {
        text.push('.');
    }
    text
}

impl fmt::Display for SitePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.text)
    }
}

impl AsRef<str> for SitePath {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl serde::Serialize for SitePath {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

/// What resolving a layout needs to know about the Maestro host.
///
/// A trait so that a tool checking a remote host over SSH can answer for
/// that host; [`LocalHost`] answers for the machine the tool runs on.
pub trait SiteHost {
    /// The host name, to name MySQL's default error log.
    fn host_name(&self) -> Option<String>;
    /// Whether `path` is an existing folder.
    fn is_dir(&self, path: &SitePath) -> bool;
}

/// The machine this tool runs on.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalHost;

impl SiteHost for LocalHost {
    fn host_name(&self) -> Option<String> {
        local_host_name()
    }

    /// Paths in the other OS's style describe another host: never "exists".
    fn is_dir(&self, path: &SitePath) -> bool {
        path.style() == PathStyle::host() && path.to_path_buf().is_dir()
    }
}

#[cfg(unix)]
fn local_host_name() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the pointer and length describe `buf`, which outlives the call.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8(buf[..len].to_vec()).ok()
}

#[cfg(not(unix))]
fn local_host_name() -> Option<String> {
    std::env::var("COMPUTERNAME").ok()
}

#[derive(Debug, Clone)]
struct ApplicationPaths {
    home: SitePath,
    ini: SitePath,
    tomcat_ini: SitePath,
    log_dir: SitePath,
    backup_dir: SitePath,
    temp_dir: SitePath,
}

/// A resolved site profile: every path of the installation, absolute.
#[derive(Debug, Clone)]
pub struct SiteLayout {
    style: PathStyle,
    profile: Profile,
    install_root: SitePath,
    applications: [ApplicationPaths; 3],
    db_home: SitePath,
    db_data_dir: SitePath,
    db_log_file: SitePath,
    db_log_dir: SitePath,
    hubreg_dir: SitePath,
    accountreg_dir: SitePath,
    ini_encoding: Encoding,
}

/// Turns the configured values into absolute paths, naming the key at fault.
struct Resolver<'a> {
    style: PathStyle,
    root: &'a SitePath,
}

impl Resolver<'_> {
    /// The configured value of `key` if set, else `default` under `base`.
    fn path(
        &self,
        key: &'static str,
        value: Option<&String>,
        base: &SitePath,
        default: &str,
    ) -> Result<SitePath, SiteError> {
        match value {
            Some(value) => self.configured(key, value),
            None => Ok(base.join(default)),
        }
    }

    fn configured(&self, key: &'static str, value: &str) -> Result<SitePath, SiteError> {
        let invalid = |reason| SiteError::InvalidPath {
            key,
            value: value.to_owned(),
            reason,
        };
        if value.trim().is_empty() {
            return Err(invalid("is empty"));
        }
        if value.contains('\0') {
            return Err(invalid("contains a NUL byte"));
        }
        let path = SitePath::new(value, self.style);
        if path.is_absolute() {
            return Ok(path);
        }
        match split(&path.text, self.style).anchor {
            Anchor::Relative => Ok(self.root.join(&path.text)),
            // `\x` and `C:x` depend on the current drive or folder of
            // whatever process reads them.
            _ => Err(invalid(
                "depends on the current drive or folder; give an absolute path \
                 (C:\\...) or one relative to site.install_root",
            )),
        }
    }
}

impl SiteLayout {
    /// Resolves the layout of an installation on this machine (or, for a
    /// path style other than this OS's, of one whose folders are not probed).
    pub fn resolve(cfg: &SiteConfig) -> Result<SiteLayout, SiteError> {
        SiteLayout::resolve_on(cfg, &LocalHost)
    }

    /// Resolves the layout, asking `host` which log folders exist and, when
    /// `db_log_file` is not set, its host name.
    pub fn resolve_on(cfg: &SiteConfig, host: &dyn SiteHost) -> Result<SiteLayout, SiteError> {
        let style = cfg.path_style.unwrap_or_else(PathStyle::host);
        let profile = match &cfg.profile {
            None => Profile::default(),
            Some(name) => Profile::parse(name).ok_or_else(|| SiteError::UnknownProfile {
                value: name.clone(),
            })?,
        };
        let ini_encoding = match &cfg.ini_encoding {
            None => Encoding::Latin1,
            Some(name) => parse_encoding(name).ok_or_else(|| SiteError::UnknownEncoding {
                value: name.clone(),
            })?,
        };

        let install_root = match &cfg.install_root {
            Some(value) => {
                let root = SitePath::new(value, style);
                if value.trim().is_empty() || value.contains('\0') || !root.is_absolute() {
                    return Err(SiteError::InvalidPath {
                        key: "install_root",
                        value: value.clone(),
                        reason: "must be an absolute path",
                    });
                }
                root
            }
            None => SitePath::new(
                profile
                    .default_install_root(style)
                    .ok_or(SiteError::NoDefaultInstallRoot { profile, style })?,
                style,
            ),
        };
        let r = Resolver {
            style,
            root: &install_root,
        };

        let hub_home = r.path("hub_home", cfg.hub_home.as_ref(), &install_root, "hub")?;
        let lui_home = r.path("lui_home", cfg.lui_home.as_ref(), &install_root, "lui")?;
        let tracker_home = r.path(
            "tracker_home",
            cfg.tracker_home.as_ref(),
            &install_root,
            "trk",
        )?;

        let log_dir = cfg
            .log_dir
            .as_ref()
            .map(|value| r.configured("log_dir", value))
            .transpose()?;
        let tomcat_ini = cfg
            .tomcat_ini
            .as_ref()
            .map(|value| r.configured("tomcat_ini", value))
            .transpose()?;

        struct Keys<'a> {
            home: SitePath,
            ini: (&'static str, Option<&'a String>, &'static str),
            tomcat_ini: (&'static str, Option<&'a String>),
            log_dir: (&'static str, Option<&'a String>),
            backup_dir: (&'static str, Option<&'a String>),
            temp_dir: (&'static str, Option<&'a String>),
        }
        let application = |keys: Keys<'_>| -> Result<ApplicationPaths, SiteError> {
            let home = keys.home;
            let log_dir = match (keys.log_dir.1, &log_dir) {
                (Some(value), _) => r.configured(keys.log_dir.0, value)?,
                (None, Some(all)) => all.clone(),
                (None, None) => {
                    let candidates = profile.log_folder_names().map(|name| home.join(name));
                    let existing = candidates.iter().find(|dir| host.is_dir(dir));
                    existing.unwrap_or(&candidates[0]).clone()
                }
            };
            let tomcat_ini = match (keys.tomcat_ini.1, &tomcat_ini) {
                (Some(value), _) => r.configured(keys.tomcat_ini.0, value)?,
                (None, Some(all)) => all.clone(),
                (None, None) => home.join("tomcat.ini"),
            };
            Ok(ApplicationPaths {
                ini: r.path(keys.ini.0, keys.ini.1, &home, keys.ini.2)?,
                tomcat_ini,
                log_dir,
                backup_dir: r.path(keys.backup_dir.0, keys.backup_dir.1, &home, "backup")?,
                temp_dir: r.path(keys.temp_dir.0, keys.temp_dir.1, &home, "temp")?,
                home,
            })
        };
        let hub = application(Keys {
            home: hub_home.clone(),
            ini: ("hub_ini", cfg.hub_ini.as_ref(), "hub.ini"),
            tomcat_ini: ("hub_tomcat_ini", cfg.hub_tomcat_ini.as_ref()),
            log_dir: ("hub_log_dir", cfg.hub_log_dir.as_ref()),
            backup_dir: ("hub_backup_dir", cfg.hub_backup_dir.as_ref()),
            temp_dir: ("hub_temp_dir", cfg.hub_temp_dir.as_ref()),
        })?;
        let lui = application(Keys {
            home: lui_home.clone(),
            ini: ("lui_ini", cfg.lui_ini.as_ref(), "lui.ini"),
            tomcat_ini: ("lui_tomcat_ini", cfg.lui_tomcat_ini.as_ref()),
            log_dir: ("lui_log_dir", cfg.lui_log_dir.as_ref()),
            backup_dir: ("lui_backup_dir", cfg.lui_backup_dir.as_ref()),
            temp_dir: ("lui_temp_dir", cfg.lui_temp_dir.as_ref()),
        })?;
        let tracker = application(Keys {
            home: tracker_home,
            ini: ("tracker_ini", cfg.tracker_ini.as_ref(), "tracker.ini"),
            tomcat_ini: ("tracker_tomcat_ini", cfg.tracker_tomcat_ini.as_ref()),
            log_dir: ("tracker_log_dir", cfg.tracker_log_dir.as_ref()),
            backup_dir: ("tracker_backup_dir", cfg.tracker_backup_dir.as_ref()),
            temp_dir: ("tracker_temp_dir", cfg.tracker_temp_dir.as_ref()),
        })?;

        let db_home = r.path("db_home", cfg.db_home.as_ref(), &lui_home, "database")?;
        let db_data_dir = r.path("db_data_dir", cfg.db_data_dir.as_ref(), &db_home, "data")?;
        let db_log_file = match &cfg.db_log_file {
            Some(value) => r.configured("db_log_file", value)?,
            None => {
                // MySQL cuts the host name at the first dot for its
                // default file names (`db1.example.org` writes `db1.err`).
                let name = host.host_name().unwrap_or_default();
                let short = name.split('.').next().unwrap_or_default();
                if short.is_empty() || short.contains(['/', '\\', '\0']) {
                    return Err(SiteError::UnknownHostName);
                }
                db_data_dir.join(&format!("{short}.err"))
            }
        };
        let db_log_dir = db_log_file.parent().unwrap_or_else(|| install_root.clone());

        Ok(SiteLayout {
            style,
            profile,
            applications: [hub, lui, tracker],
            db_home,
            db_data_dir,
            db_log_file,
            db_log_dir,
            hubreg_dir: r.path("hubreg_dir", cfg.hubreg_dir.as_ref(), &hub_home, "hubreg")?,
            accountreg_dir: r.path(
                "accountreg_dir",
                cfg.accountreg_dir.as_ref(),
                &hub_home,
                "accountreg",
            )?,
            ini_encoding,
            install_root,
        })
    }

    pub fn style(&self) -> PathStyle {
        self.style
    }

    pub fn profile(&self) -> Profile {
        self.profile
    }

    pub fn install_root(&self) -> &SitePath {
        &self.install_root
    }

    /// How the component INI files are encoded.
    pub fn ini_encoding(&self) -> Encoding {
        self.ini_encoding
    }

    fn application(&self, c: Component) -> Option<&ApplicationPaths> {
        self.applications.get(c.index())
    }

    /// The component's home folder; for `Db`, the internal MySQL's folder.
    pub fn home(&self, c: Component) -> &SitePath {
        match self.application(c) {
            Some(app) => &app.home,
            None => &self.db_home,
        }
    }

    /// `hub.ini`, `lui.ini` or `tracker.ini`; `None` for `Db`.
    pub fn ini(&self, c: Component) -> Option<&SitePath> {
        self.application(c).map(|app| &app.ini)
    }

    /// The component's `tomcat.ini`; `None` for `Db`.
    pub fn tomcat_ini(&self, c: Component) -> Option<&SitePath> {
        self.application(c).map(|app| &app.tomcat_ini)
    }

    /// The component's log folder; for `Db`, the folder of its error log.
    pub fn log_dir(&self, c: Component) -> &SitePath {
        match self.application(c) {
            Some(app) => &app.log_dir,
            None => &self.db_log_dir,
        }
    }

    /// The folder the HUB's daily backup writes for the component.
    pub fn backup_dir(&self, c: Component) -> Option<&SitePath> {
        self.application(c).map(|app| &app.backup_dir)
    }

    pub fn temp_dir(&self, c: Component) -> Option<&SitePath> {
        self.application(c).map(|app| &app.temp_dir)
    }

    /// The component's log for one day (`LUI-20240131.LOG`); for `Db`, the
    /// single error log, whatever the date.
    pub fn log_file_for(&self, c: Component, date: NaiveDate) -> SitePath {
        let prefix = match c {
            Component::Hub => "HUB",
            Component::Lui => "LUI",
            Component::Tracker => "TRACKER",
            Component::Db => return self.db_log_file.clone(),
        };
        self.log_dir(c)
            .join(&format!("{prefix}-{}.LOG", date.format("%Y%m%d")))
    }

    /// `<lui_home>/database/bin`, the internal MySQL's programs.
    pub fn db_bin_dir(&self) -> SitePath {
        self.db_home.join("bin")
    }

    pub fn db_data_dir(&self) -> &SitePath {
        &self.db_data_dir
    }

    /// The MySQL error log.
    pub fn db_log_file(&self) -> &SitePath {
        &self.db_log_file
    }

    pub fn hubreg_dir(&self) -> &SitePath {
        &self.hubreg_dir
    }

    pub fn accountreg_dir(&self) -> &SitePath {
        &self.accountreg_dir
    }

    fn all_roots(&self) -> [(Component, &SitePath); 4] {
        [
            (Component::Hub, &self.applications[0].home),
            (Component::Lui, &self.applications[1].home),
            (Component::Tracker, &self.applications[2].home),
            (Component::Db, &self.db_data_dir),
        ]
    }

    /// The folders that hold Maestro's data, for snapshot verification:
    /// the three homes and the database data folder, none inside another.
    ///
    /// By default the data folder lies inside the LUI home; a root inside
    /// another is then left out (its files are walked as part of the outer
    /// root, so none is walked twice) and a walker attributes each file with
    /// [`component_of`](Self::component_of). An overridden data folder
    /// elsewhere is a root of its own.
    pub fn data_roots(&self) -> Vec<(Component, SitePath)> {
        let roots = self.all_roots();
        roots
            .iter()
            .enumerate()
            .filter(|(i, (_, path))| {
                !roots.iter().enumerate().any(|(j, (_, other))| {
                    j != *i && path.starts_with(other) && (!other.starts_with(path) || j < *i)
                })
            })
            .map(|(_, (c, path))| (*c, (*path).clone()))
            .collect()
    }

    /// The component whose data `path` is: the one with the deepest root
    /// containing it (so the default database folder counts as `Db`, not `Lui`).
    pub fn component_of(&self, path: &SitePath) -> Option<Component> {
        self.all_roots()
            .into_iter()
            .filter(|(_, root)| path.starts_with(root))
            .max_by_key(|(_, root)| split(&root.text, root.style).parts.len())
            .map(|(c, _)| c)
    }

    /// Folders whose content changes on its own schedule (logs, temporary
    /// files, backups), which snapshot verification must skip.
    pub fn excluded_dirs(&self) -> Vec<SitePath> {
        let mut dirs: Vec<SitePath> = Vec::new();
        for app in &self.applications {
            for dir in [&app.log_dir, &app.temp_dir, &app.backup_dir] {
                if !dirs.contains(dir) {
                    dirs.push(dir.clone());
                }
            }
        }
        dirs
    }

    /// Files to skip the same way: the database error log, which by default
    /// lies in the data folder and is written by whichever server runs.
    pub fn excluded_files(&self) -> Vec<SitePath> {
        vec![self.db_log_file.clone()]
    }
}

fn parse_encoding(name: &str) -> Option<Encoding> {
    // Java's charset names are case-insensitive; accept its common aliases.
    match name.trim().to_ascii_lowercase().as_str() {
        "iso-8859-1" | "iso8859-1" | "iso_8859_1" | "latin1" | "latin-1" => Some(Encoding::Latin1),
        "utf-8" | "utf8" => Some(Encoding::Utf8),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct FakeHost {
        name: Option<&'static str>,
        dirs: Vec<&'static str>,
    }

    impl SiteHost for FakeHost {
        fn host_name(&self) -> Option<String> {
            self.name.map(str::to_owned)
        }
        fn is_dir(&self, path: &SitePath) -> bool {
            self.dirs.contains(&path.as_str())
        }
    }

    fn host() -> FakeHost {
        FakeHost {
            name: Some("maestro1.example.org"),
            dirs: vec![],
        }
    }

    fn unix() -> SiteConfig {
        SiteConfig {
            path_style: Some(PathStyle::Unix),
            ..SiteConfig::default()
        }
    }

    fn windows() -> SiteConfig {
        SiteConfig {
            path_style: Some(PathStyle::Windows),
            ..SiteConfig::default()
        }
    }

    fn resolve(cfg: &SiteConfig) -> SiteLayout {
        SiteLayout::resolve_on(cfg, &host()).unwrap()
    }

    fn s(path: &SitePath) -> &str {
        path.as_str()
    }

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 1, 31).unwrap()
    }

    #[test]
    fn default_unix_layout() {
        let l = resolve(&unix());
        assert_eq!(l.profile(), Profile::Maestro4);
        assert_eq!(l.ini_encoding(), Encoding::Latin1);
        assert_eq!(s(l.install_root()), "/opt/lsoft/maestro");
        assert_eq!(s(l.home(Component::Hub)), "/opt/lsoft/maestro/hub");
        assert_eq!(s(l.home(Component::Lui)), "/opt/lsoft/maestro/lui");
        assert_eq!(s(l.home(Component::Tracker)), "/opt/lsoft/maestro/trk");
        assert_eq!(s(l.home(Component::Db)), "/opt/lsoft/maestro/lui/database");
        assert_eq!(
            s(l.ini(Component::Hub).unwrap()),
            "/opt/lsoft/maestro/hub/hub.ini"
        );
        assert_eq!(
            s(l.ini(Component::Lui).unwrap()),
            "/opt/lsoft/maestro/lui/lui.ini"
        );
        assert_eq!(
            s(l.ini(Component::Tracker).unwrap()),
            "/opt/lsoft/maestro/trk/tracker.ini"
        );
        assert_eq!(l.ini(Component::Db), None);
        assert_eq!(
            s(l.tomcat_ini(Component::Lui).unwrap()),
            "/opt/lsoft/maestro/lui/tomcat.ini"
        );
        assert_eq!(l.tomcat_ini(Component::Db), None);
        assert_eq!(
            s(l.log_dir(Component::Tracker)),
            "/opt/lsoft/maestro/trk/logs"
        );
        assert_eq!(
            s(l.backup_dir(Component::Hub).unwrap()),
            "/opt/lsoft/maestro/hub/backup"
        );
        assert_eq!(
            s(l.temp_dir(Component::Lui).unwrap()),
            "/opt/lsoft/maestro/lui/temp"
        );
        assert_eq!(l.backup_dir(Component::Db), None);
        assert_eq!(s(&l.db_bin_dir()), "/opt/lsoft/maestro/lui/database/bin");
        assert_eq!(s(l.db_data_dir()), "/opt/lsoft/maestro/lui/database/data");
        assert_eq!(
            s(l.db_log_file()),
            "/opt/lsoft/maestro/lui/database/data/maestro1.err"
        );
        assert_eq!(
            s(l.log_dir(Component::Db)),
            "/opt/lsoft/maestro/lui/database/data"
        );
        assert_eq!(s(l.hubreg_dir()), "/opt/lsoft/maestro/hub/hubreg");
        assert_eq!(s(l.accountreg_dir()), "/opt/lsoft/maestro/hub/accountreg");
    }

    #[test]
    fn default_windows_layout() {
        let l = resolve(&windows());
        assert_eq!(s(l.install_root()), r"C:\Program Files\L-Soft\Maestro");
        assert_eq!(
            s(l.home(Component::Lui)),
            r"C:\Program Files\L-Soft\Maestro\lui"
        );
        assert_eq!(
            s(l.ini(Component::Tracker).unwrap()),
            r"C:\Program Files\L-Soft\Maestro\trk\tracker.ini"
        );
        assert_eq!(
            s(l.log_dir(Component::Hub)),
            r"C:\Program Files\L-Soft\Maestro\hub\logs"
        );
        assert_eq!(
            s(l.db_data_dir()),
            r"C:\Program Files\L-Soft\Maestro\lui\database\data"
        );
        assert_eq!(
            s(l.db_log_file()),
            r"C:\Program Files\L-Soft\Maestro\lui\database\data\maestro1.err"
        );
        assert_eq!(
            s(l.hubreg_dir()),
            r"C:\Program Files\L-Soft\Maestro\hub\hubreg"
        );
    }

    #[test]
    fn log_file_names() {
        let l = resolve(&unix());
        assert_eq!(
            s(&l.log_file_for(Component::Lui, date())),
            "/opt/lsoft/maestro/lui/logs/LUI-20240131.LOG"
        );
        assert_eq!(
            s(&l.log_file_for(Component::Hub, date())),
            "/opt/lsoft/maestro/hub/logs/HUB-20240131.LOG"
        );
        assert_eq!(
            s(&l.log_file_for(Component::Tracker, date())),
            "/opt/lsoft/maestro/trk/logs/TRACKER-20240131.LOG"
        );
        assert_eq!(&l.log_file_for(Component::Db, date()), l.db_log_file());
        let w = resolve(&windows());
        assert_eq!(
            s(&w.log_file_for(Component::Lui, date())),
            r"C:\Program Files\L-Soft\Maestro\lui\logs\LUI-20240131.LOG"
        );
    }

    #[test]
    fn absolute_and_relative_overrides() {
        let cfg = SiteConfig {
            install_root: Some("/srv/maestro/".into()),
            lui_home: Some("/data/lui".into()),
            hub_ini: Some("conf/hub.ini".into()),
            tracker_home: Some("./tracker".into()),
            hubreg_dir: Some("/data/hubreg".into()),
            db_data_dir: Some("/var/lib/maestro-db".into()),
            db_log_file: Some("/var/log/mysql/error.log".into()),
            ini_encoding: Some("UTF-8".into()),
            ..unix()
        };
        let l = resolve(&cfg);
        assert_eq!(s(l.install_root()), "/srv/maestro");
        assert_eq!(s(l.home(Component::Hub)), "/srv/maestro/hub");
        assert_eq!(
            s(l.ini(Component::Hub).unwrap()),
            "/srv/maestro/conf/hub.ini"
        );
        // Paths under a home follow the home.
        assert_eq!(s(l.ini(Component::Lui).unwrap()), "/data/lui/lui.ini");
        assert_eq!(s(l.log_dir(Component::Lui)), "/data/lui/logs");
        assert_eq!(s(l.home(Component::Db)), "/data/lui/database");
        assert_eq!(s(l.home(Component::Tracker)), "/srv/maestro/tracker");
        assert_eq!(s(l.hubreg_dir()), "/data/hubreg");
        assert_eq!(s(l.accountreg_dir()), "/srv/maestro/hub/accountreg");
        assert_eq!(s(l.db_data_dir()), "/var/lib/maestro-db");
        assert_eq!(s(l.db_log_file()), "/var/log/mysql/error.log");
        assert_eq!(s(l.log_dir(Component::Db)), "/var/log/mysql");
        assert_eq!(l.ini_encoding(), Encoding::Utf8);
    }

    #[test]
    fn log_dir_and_tomcat_ini_for_all_and_per_component() {
        let cfg = SiteConfig {
            log_dir: Some("logs".into()),
            lui_log_dir: Some("/var/log/lui".into()),
            tomcat_ini: Some("tomcat.ini".into()),
            tracker_tomcat_ini: Some("trk/conf/tomcat.ini".into()),
            ..unix()
        };
        let l = resolve(&cfg);
        assert_eq!(s(l.log_dir(Component::Hub)), "/opt/lsoft/maestro/logs");
        assert_eq!(s(l.log_dir(Component::Tracker)), "/opt/lsoft/maestro/logs");
        assert_eq!(s(l.log_dir(Component::Lui)), "/var/log/lui");
        assert_eq!(
            s(l.tomcat_ini(Component::Hub).unwrap()),
            "/opt/lsoft/maestro/tomcat.ini"
        );
        assert_eq!(
            s(l.tomcat_ini(Component::Tracker).unwrap()),
            "/opt/lsoft/maestro/trk/conf/tomcat.ini"
        );
        // A shared log folder is excluded once.
        let excluded = l.excluded_dirs();
        let shared = excluded
            .iter()
            .filter(|d| d.as_str() == "/opt/lsoft/maestro/logs");
        assert_eq!(shared.count(), 1);
    }

    #[test]
    fn windows_overrides_with_forward_slashes_are_normalised() {
        let cfg = SiteConfig {
            install_root: Some("D:/Maestro/".into()),
            lui_home: Some("E:/data//lui/".into()),
            hub_ini: Some("hub/./conf/hub.ini".into()),
            accountreg_dir: Some(r"\\nas\share\accountreg".into()),
            ..windows()
        };
        let l = resolve(&cfg);
        assert_eq!(s(l.install_root()), r"D:\Maestro");
        assert_eq!(s(l.home(Component::Hub)), r"D:\Maestro\hub");
        assert_eq!(s(l.home(Component::Lui)), r"E:\data\lui");
        assert_eq!(
            s(l.ini(Component::Hub).unwrap()),
            r"D:\Maestro\hub\conf\hub.ini"
        );
        assert_eq!(s(l.accountreg_dir()), r"\\nas\share\accountreg");
    }

    #[test]
    fn maestro_2_profile() {
        let cfg = SiteConfig {
            profile: Some("maestro-2".into()),
            ..windows()
        };
        let l = resolve(&cfg);
        assert_eq!(l.profile(), Profile::Maestro2);
        assert_eq!(
            s(l.install_root()),
            r"C:\Program Files\L-Soft\Application Server"
        );
        assert_eq!(
            s(l.log_dir(Component::Lui)),
            r"C:\Program Files\L-Soft\Application Server\lui\log"
        );
        assert_eq!(
            s(&l.log_file_for(Component::Hub, date())),
            r"C:\Program Files\L-Soft\Application Server\hub\log\HUB-20240131.LOG"
        );

        // An upgraded 2.x site may have a `logs` folder only.
        let only_logs = FakeHost {
            name: None,
            dirs: vec![r"C:\Program Files\L-Soft\Application Server\trk\logs"],
        };
        let cfg = SiteConfig {
            db_log_file: Some("db.err".into()),
            ..cfg
        };
        let l = SiteLayout::resolve_on(&cfg, &only_logs).unwrap();
        assert_eq!(
            s(l.log_dir(Component::Tracker)),
            r"C:\Program Files\L-Soft\Application Server\trk\logs"
        );
        assert_eq!(
            s(l.log_dir(Component::Hub)),
            r"C:\Program Files\L-Soft\Application Server\hub\log"
        );
    }

    #[test]
    fn maestro_2_on_unix_needs_an_install_root() {
        let cfg = SiteConfig {
            profile: Some("maestro-2".into()),
            ..unix()
        };
        let err = SiteLayout::resolve_on(&cfg, &host()).unwrap_err();
        assert!(matches!(err, SiteError::NoDefaultInstallRoot { .. }));
        assert!(err.to_string().starts_with("site.install_root: "), "{err}");
        let cfg = SiteConfig {
            install_root: Some("/opt/appserver".into()),
            ..cfg
        };
        assert_eq!(
            s(resolve(&cfg).log_dir(Component::Lui)),
            "/opt/appserver/lui/log"
        );
    }

    #[test]
    fn log_or_logs_prefers_the_folder_that_exists() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("hub").join("log")).unwrap();
        std::fs::create_dir_all(root.join("lui").join("log")).unwrap();
        std::fs::create_dir_all(root.join("lui").join("logs")).unwrap();
        std::fs::create_dir_all(root.join("trk")).unwrap();
        // A file named `logs` is not a log folder.
        std::fs::write(root.join("trk").join("logs"), "").unwrap();
        let style = PathStyle::host();
        let cfg = SiteConfig {
            install_root: Some(root.to_str().unwrap().to_owned()),
            path_style: Some(style),
            db_log_file: Some("db.err".into()),
            ..SiteConfig::default()
        };
        let l = SiteLayout::resolve(&cfg).unwrap();
        assert_eq!(
            l.log_dir(Component::Hub).to_path_buf(),
            root.join("hub").join("log")
        );
        assert_eq!(
            l.log_dir(Component::Lui).to_path_buf(),
            root.join("lui").join("logs")
        );
        assert_eq!(
            l.log_dir(Component::Tracker).to_path_buf(),
            root.join("trk").join("logs")
        );

        let cfg = SiteConfig {
            profile: Some("maestro-2".into()),
            ..cfg
        };
        let l = SiteLayout::resolve(&cfg).unwrap();
        assert_eq!(
            l.log_dir(Component::Lui).to_path_buf(),
            root.join("lui").join("log")
        );
    }

    #[test]
    fn the_local_host_never_probes_paths_of_the_other_style() {
        let other = match PathStyle::host() {
            PathStyle::Unix => PathStyle::Windows,
            PathStyle::Windows => PathStyle::Unix,
        };
        assert!(!LocalHost.is_dir(&SitePath::new(".", other)));
        assert!(LocalHost.is_dir(&SitePath::new(".", PathStyle::host())));
    }

    #[test]
    fn default_path_style_is_the_hosts() {
        let cfg = SiteConfig {
            db_log_file: Some("db.err".into()),
            ..SiteConfig::default()
        };
        let l = SiteLayout::resolve(&cfg).unwrap();
        assert_eq!(l.style(), PathStyle::host());
    }

    #[test]
    fn errors_name_the_key() {
        let cases: Vec<(SiteConfig, &str)> = vec![
            (
                SiteConfig {
                    profile: Some("maestro-3".into()),
                    ..unix()
                },
                "site.profile: unknown profile \"maestro-3\" (expected \"maestro-4\" or \"maestro-2\")",
            ),
            (
                SiteConfig {
                    ini_encoding: Some("cp1252".into()),
                    ..unix()
                },
                "site.ini_encoding: unknown encoding \"cp1252\" (expected \"iso-8859-1\" or \"utf-8\")",
            ),
            (
                SiteConfig {
                    install_root: Some("maestro".into()),
                    ..unix()
                },
                "site.install_root: \"maestro\" must be an absolute path",
            ),
            (
                SiteConfig {
                    install_root: Some(r"\Maestro".into()),
                    ..windows()
                },
                "site.install_root: \"\\\\Maestro\" must be an absolute path",
            ),
            (
                SiteConfig {
                    lui_log_dir: Some("  ".into()),
                    ..unix()
                },
                "site.lui_log_dir: \"  \" is empty",
            ),
            (
                SiteConfig {
                    hub_home: Some("hub\0".into()),
                    ..unix()
                },
                "site.hub_home: \"hub\\0\" contains a NUL byte",
            ),
        ];
        for (cfg, message) in cases {
            let err = SiteLayout::resolve_on(&cfg, &host()).unwrap_err();
            assert_eq!(err.to_string(), message);
        }
        for bad in ["C:lui", r"\lui", "/lui"] {
            let cfg = SiteConfig {
                lui_home: Some(bad.into()),
                ..windows()
            };
            let err = SiteLayout::resolve_on(&cfg, &host()).unwrap_err();
            assert!(
                matches!(
                    err,
                    SiteError::InvalidPath {
                        key: "lui_home",
                        ..
                    }
                ),
                "{bad}: {err:?}"
            );
            assert!(err.to_string().contains("current drive"), "{err}");
        }
    }

    #[test]
    fn encodings_accept_java_aliases() {
        for (name, expected) in [
            ("iso-8859-1", Encoding::Latin1),
            ("ISO8859-1", Encoding::Latin1),
            ("latin1", Encoding::Latin1),
            ("utf8", Encoding::Utf8),
            (" UTF-8 ", Encoding::Utf8),
        ] {
            let cfg = SiteConfig {
                ini_encoding: Some(name.into()),
                ..unix()
            };
            assert_eq!(resolve(&cfg).ini_encoding(), expected, "{name}");
        }
    }

    #[test]
    fn db_log_file_needs_a_host_name_only_by_default() {
        let nameless = FakeHost {
            name: None,
            dirs: vec![],
        };
        let err = SiteLayout::resolve_on(&unix(), &nameless).unwrap_err();
        assert_eq!(err, SiteError::UnknownHostName);
        assert!(err.to_string().starts_with("site.db_log_file: "));
        let weird = FakeHost {
            name: Some("../x"),
            dirs: vec![],
        };
        assert_eq!(
            SiteLayout::resolve_on(&unix(), &weird).unwrap_err(),
            SiteError::UnknownHostName
        );
        let cfg = SiteConfig {
            db_log_file: Some("mysql.err".into()),
            ..unix()
        };
        let l = SiteLayout::resolve_on(&cfg, &nameless).unwrap();
        assert_eq!(s(l.db_log_file()), "/opt/lsoft/maestro/mysql.err");
        assert!(LocalHost.host_name().is_some_and(|n| !n.is_empty()));
    }

    #[test]
    fn default_data_roots_do_not_overlap() {
        let l = resolve(&unix());
        let roots = l.data_roots();
        let roots: Vec<(Component, &str)> = roots.iter().map(|(c, p)| (*c, p.as_str())).collect();
        assert_eq!(
            roots,
            vec![
                (Component::Hub, "/opt/lsoft/maestro/hub"),
                (Component::Lui, "/opt/lsoft/maestro/lui"),
                (Component::Tracker, "/opt/lsoft/maestro/trk"),
            ]
        );
        let db_file = l.db_data_dir().join("lui/ibdata1");
        assert_eq!(l.component_of(&db_file), Some(Component::Db));
        let lui_file = l.home(Component::Lui).join("lui.ini");
        assert_eq!(l.component_of(&lui_file), Some(Component::Lui));
        let elsewhere = SitePath::new("/etc/passwd", PathStyle::Unix);
        assert_eq!(l.component_of(&elsewhere), None);
        // The data folder's neighbour with a longer name is not inside it.
        let neighbour = l.home(Component::Db).join("data2/x");
        assert_eq!(l.component_of(&neighbour), Some(Component::Lui));
    }

    #[test]
    fn a_data_folder_elsewhere_is_a_root_of_its_own() {
        let cfg = SiteConfig {
            db_data_dir: Some(r"D:\mysql\data".into()),
            ..windows()
        };
        let l = resolve(&cfg);
        let roots = l.data_roots();
        assert_eq!(roots.len(), 4);
        assert_eq!(
            roots[3],
            (
                Component::Db,
                SitePath::new(r"D:\mysql\data", PathStyle::Windows)
            )
        );
        let file = SitePath::new(r"d:\MySQL\Data\lui\x.MYD", PathStyle::Windows);
        assert_eq!(l.component_of(&file), Some(Component::Db));
    }

    #[test]
    fn equal_or_nested_homes_are_walked_once() {
        let cfg = SiteConfig {
            install_root: Some("/m".into()),
            hub_home: Some("/m".into()),
            tracker_home: Some("/m".into()),
            ..unix()
        };
        let l = resolve(&cfg);
        let roots: Vec<Component> = l.data_roots().into_iter().map(|(c, _)| c).collect();
        assert_eq!(roots, vec![Component::Hub]);
    }

    #[test]
    fn excluded_dirs_and_files() {
        let l = resolve(&unix());
        let dirs = l.excluded_dirs();
        let dirs: Vec<&str> = dirs.iter().map(SitePath::as_str).collect();
        assert_eq!(
            dirs,
            vec![
                "/opt/lsoft/maestro/hub/logs",
                "/opt/lsoft/maestro/hub/temp",
                "/opt/lsoft/maestro/hub/backup",
                "/opt/lsoft/maestro/lui/logs",
                "/opt/lsoft/maestro/lui/temp",
                "/opt/lsoft/maestro/lui/backup",
                "/opt/lsoft/maestro/trk/logs",
                "/opt/lsoft/maestro/trk/temp",
                "/opt/lsoft/maestro/trk/backup",
            ]
        );
        assert_eq!(l.excluded_files(), vec![l.db_log_file().clone()]);
    }

    #[test]
    fn site_section_from_toml() {
        #[derive(Debug, Deserialize)]
        struct File {
            site: SiteConfig,
        }
        let file: File = toml::from_str(
            r#"
            [site]
            install_root = 'C:\Maestro'
            path_style = "windows"
            profile = "maestro-4"
            lui_log_dir = "lui/log"
            "#,
        )
        .unwrap();
        let l = resolve(&file.site);
        assert_eq!(s(l.log_dir(Component::Lui)), r"C:\Maestro\lui\log");

        let err = toml::from_str::<File>("[site]\ninstal_root = \"/x\"\n").unwrap_err();
        assert!(err.to_string().contains("instal_root"), "{err}");
        let err = toml::from_str::<File>("[site]\npath_style = \"vms\"\n").unwrap_err();
        assert!(err.to_string().contains("vms"), "{err}");
    }

    #[test]
    fn site_path_join_and_normalise() {
        let u = |t: &str| SitePath::new(t, PathStyle::Unix);
        let w = |t: &str| SitePath::new(t, PathStyle::Windows);
        assert_eq!(s(&u("/a//b/./c/")), "/a/b/c");
        assert_eq!(s(&u("/")), "/");
        assert_eq!(s(&u("")), ".");
        assert_eq!(s(&u("/a").join("b/c")), "/a/b/c");
        assert_eq!(s(&u("/a").join("/x")), "/x");
        assert_eq!(s(&u("/").join("lui")), "/lui");
        assert_eq!(s(&u("/a").join("../b")), "/a/../b");
        assert_eq!(s(&u("/a").join("")), "/a");
        assert_eq!(s(&u(r"/a\b")), r"/a\b");
        assert_eq!(s(&w(r"C:\x").join("lui")), r"C:\x\lui");
        assert_eq!(s(&w(r"C:\").join("lui")), r"C:\lui");
        assert_eq!(s(&w("c:/x/")), r"c:\x");
        assert_eq!(s(&w(r"C:\x").join(r"D:\y")), r"D:\y");
        assert_eq!(s(&w(r"\\srv\share").join("a/b")), r"\\srv\share\a\b");
        assert!(w(r"C:\x").is_absolute());
        assert!(w(r"\\srv\share").is_absolute());
        assert!(!w(r"\x").is_absolute());
        assert!(!w("C:x").is_absolute());
        assert!(!w("x").is_absolute());
        assert!(u("/x").is_absolute());
        assert!(!u("x").is_absolute());
        assert_eq!(w(r"C:\x").to_string(), r"C:\x");
        assert_eq!(u("/opt/x").to_path_buf(), PathBuf::from("/opt/x"));
    }

    #[test]
    fn site_path_parent_file_name_starts_with() {
        let u = |t: &str| SitePath::new(t, PathStyle::Unix);
        let w = |t: &str| SitePath::new(t, PathStyle::Windows);
        assert_eq!(u("/a/b").parent(), Some(u("/a")));
        assert_eq!(u("/a").parent(), Some(u("/")));
        assert_eq!(u("/").parent(), None);
        assert_eq!(u("a").parent(), None);
        assert_eq!(w(r"C:\a").parent(), Some(w(r"C:\")));
        assert_eq!(u("/a/b.err").file_name(), Some("b.err"));
        assert_eq!(u("/").file_name(), None);
        assert!(u("/a/b/c").starts_with(&u("/a/b")));
        assert!(u("/a/b").starts_with(&u("/a/b")));
        assert!(u("/a/b").starts_with(&u("/")));
        assert!(!u("/a/bc").starts_with(&u("/a/b")));
        assert!(!u("/A/b").starts_with(&u("/a")));
        assert!(!u("a/b").starts_with(&u("/a")));
        assert!(w(r"c:\PROGRAM FILES\x").starts_with(&w(r"C:\Program Files")));
        assert!(!w(r"D:\Program Files\x").starts_with(&w(r"C:\Program Files")));
        assert!(!w(r"C:\x").starts_with(&u("/")));
    }

    #[test]
    fn site_path_serializes_as_text() {
        let p = SitePath::new(r"C:\x", PathStyle::Windows);
        assert_eq!(serde_json::to_string(&p).unwrap(), r#""C:\\x""#);
    }

    #[test]
    fn never_panics_on_odd_path_text() {
        for text in [
            "",
            ":",
            "é:",
            "C:",
            "\\\\",
            "\\",
            "/",
            "ü\\ä/ö",
            "..",
            "\u{0}",
            "C:é",
            "\\\\\\\\x",
        ] {
            for style in [PathStyle::Unix, PathStyle::Windows] {
                let p = SitePath::new(text, style);
                let _ = (p.join(text), p.parent(), p.file_name(), p.is_absolute());
                let cfg = SiteConfig {
                    install_root: Some(text.into()),
                    lui_home: Some(text.into()),
                    path_style: Some(style),
                    ..SiteConfig::default()
                };
                let _ = SiteLayout::resolve_on(&cfg, &host());
            }
        }
    }
}

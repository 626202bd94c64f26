//! Secrets (tokens, passwords) come from a file or an environment variable,
//! never from the config text itself and never from argv, where `ps` and
//! shell history would show them. A [`Secret`] never prints its value.

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::path::{Path, PathBuf};

/// Where a secret is kept, as written in the config:
/// `token = { file = "/etc/maestro-ha/token" }` or `password = { env = "IMAP_PASSWORD" }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    File(PathBuf),
    Env(String),
}

/// A secret file is a token or a password: anything larger is not one.
pub const SECRET_FILE_LIMIT: u64 = 64 * crate::fsio::KIB;

/// A loaded secret. Debug output is redacted; read it with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A secret from wherever it was found (a file, the environment, the
    /// password of a URL). It is registered with [`crate::safe_output`], so
    /// that it is masked in everything the tool prints from now on.
    pub fn new(value: &str) -> Secret {
        crate::safe_output::register_secret(value);
        Secret(value.to_string())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read secret file: {0}")]
    Read(#[from] crate::fsio::FsioError),
    #[error("secret file {path} is empty")]
    EmptyFile { path: PathBuf },
    #[error("secret file {path} is not valid UTF-8")]
    NotText { path: PathBuf },
    #[error("environment variable {name} is not set (it should hold the secret)")]
    EnvMissing { name: String },
    #[error("environment variable {name} is empty")]
    EnvEmpty { name: String },
    /// A value of one or two characters cannot be masked in output without
    /// mangling every message that holds those characters, so it would be
    /// printed wherever a server echoes it.
    #[error("the secret in {place} is shorter than {} characters: too short to be kept out of the output (a token or password is longer)", crate::safe_output::MIN_MASKED_LEN)]
    TooShort { place: String },
}

impl SecretRef {
    /// Where the secret is, for messages: never the secret itself.
    pub fn describe(&self) -> String {
        match self {
            SecretRef::File(p) => format!("file {}", p.display()),
            SecretRef::Env(n) => format!("environment variable {n}"),
        }
    }

    /// Load the secret. `warn` receives advice that does not stop the run,
    /// such as a secret file others can read.
    pub fn load(&self, warn: &mut dyn FnMut(String)) -> Result<Secret, SecretError> {
        match self {
            SecretRef::File(path) => {
                if let Some(w) = world_readable_warning(path) {
                    warn(w);
                }
                let bytes = crate::fsio::read_regular(path, SECRET_FILE_LIMIT)?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| SecretError::NotText { path: path.clone() })?;
                // Files written by `echo secret > file` end in a newline that is not part of the secret.
                let value = text.strip_suffix('\n').unwrap_or(&text);
                let value = value.strip_suffix('\r').unwrap_or(value);
                if value.is_empty() {
                    return Err(SecretError::EmptyFile { path: path.clone() });
                }
                self.long_enough(value)?;
                Ok(Secret::new(value))
            }
            SecretRef::Env(name) => match std::env::var_os(name) {
                None => Err(SecretError::EnvMissing { name: name.clone() }),
                Some(v) if v.is_empty() => Err(SecretError::EnvEmpty { name: name.clone() }),
                Some(v) => {
                    let value = v.to_string_lossy();
                    self.long_enough(&value)?;
                    Ok(Secret::new(&value))
                }
            },
        }
    }

    fn long_enough(&self, value: &str) -> Result<(), SecretError> {
        if value.chars().count() < crate::safe_output::MIN_MASKED_LEN {
            return Err(SecretError::TooShort {
                place: self.describe(),
            });
        }
        Ok(())
    }
}

/// A warning when a file that holds a secret (a token, a password, a
/// private key) can be read by every user of the machine.
pub fn world_readable_warning(path: &Path) -> Option<String> {
    let reads = crate::platform::readable_by_everyone(path)?;
    Some(format!(
        "{} holds a secret and is readable by every user ({}); run: {}",
        path.display(),
        reads.why,
        reads.fix
    ))
}

impl schemars::JsonSchema for SecretRef {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Secret".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "a secret, never written in the file: `{ file = \"/etc/maestro-ha/NAME\" }` or `{ env = \"VARIABLE\" }`",
            "type": "object",
            "properties": {
                "file": { "type": "string" },
                "env": { "type": "string" }
            },
            "additionalProperties": false
        })
    }
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RefVisitor;
        const HOW: &str = "a secret is given as { file = \"/path\" } or { env = \"VARIABLE\" }";

        impl<'de> Visitor<'de> for RefVisitor {
            type Value = SecretRef;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(HOW)
            }

            fn visit_str<E: de::Error>(self, _: &str) -> Result<SecretRef, E> {
                // Do not echo the value: it is probably the secret itself.
                Err(E::custom(format!(
                    "secrets may not be written in the config file; {HOW}"
                )))
            }

            // A PIN or a numeric password written in the file: serde's own
            // message would quote the number.
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<SecretRef, E> {
                self.visit_str("")
            }

            fn visit_u64<E: de::Error>(self, _: u64) -> Result<SecretRef, E> {
                self.visit_str("")
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<SecretRef, E> {
                self.visit_str("")
            }

            fn visit_bool<E: de::Error>(self, _: bool) -> Result<SecretRef, E> {
                Err(E::custom(HOW))
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<SecretRef, A::Error> {
                Err(de::Error::custom(HOW))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SecretRef, A::Error> {
                let mut found: Option<SecretRef> = None;
                while let Some(key) = map.next_key::<String>()? {
                    let value = match key.as_str() {
                        "file" => SecretRef::File(PathBuf::from(map.next_value::<String>()?)),
                        "env" => SecretRef::Env(map.next_value::<String>()?),
                        other => return Err(de::Error::unknown_field(other, &["file", "env"])),
                    };
                    if found.is_some() {
                        return Err(de::Error::custom(format!(
                            "give only one of file or env; {HOW}"
                        )));
                    }
                    found = Some(value);
                }
                found.ok_or_else(|| de::Error::custom(HOW))
            }
        }
        d.deserialize_any(RefVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug)]
    struct T {
        token: SecretRef,
    }

    #[test]
    fn file_and_env_forms_parse() {
        let t: T = toml::from_str("token = { file = \"/x\" }").unwrap();
        assert_eq!(t.token, SecretRef::File("/x".into()));
        let t: T = toml::from_str("token = { env = \"TOK\" }").unwrap();
        assert_eq!(t.token, SecretRef::Env("TOK".into()));
    }

    #[test]
    fn a_plain_string_is_refused_without_echoing_it() {
        // The config loader reports `message()`, never toml's snippet of the line.
        let e = toml::from_str::<T>("token = \"hunter2\"")
            .unwrap_err()
            .message()
            .to_string();
        assert!(e.contains("may not be written in the config"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        let e = toml::from_str::<T>("token = { file = \"/a\", env = \"B\" }")
            .unwrap_err()
            .to_string();
        assert!(e.contains("only one"), "{e}");
        for numeric in [
            "token = 12345678",
            "token = 1234.5678",
            "token = [\"hunter2\"]",
        ] {
            let e = toml::from_str::<T>(numeric)
                .unwrap_err()
                .message()
                .to_string();
            assert!(!e.contains("1234") && !e.contains("hunter2"), "{e}");
            assert!(e.contains("{ file = "), "{e}");
        }
        let e = toml::from_str::<T>("token = { path = \"/a\" }")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `path`"), "{e}");
    }

    #[test]
    #[cfg(windows)]
    fn a_secret_file_whose_acl_lets_every_user_read_it_is_warned_about() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tok");
        std::fs::write(&p, "s3cret\n").unwrap();
        // Everyone: Wine keeps a file's DACL as its Unix mode, where only
        // Everyone has a place (the "other" bits).
        crate::platform::set_dacl(&p, "D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FR;;;WD)").unwrap();
        let mut warnings = Vec::new();
        let s = SecretRef::File(p.clone())
            .load(&mut |w| warnings.push(w))
            .unwrap();
        assert_eq!(s.expose(), "s3cret");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("readable by every user (its ACL lets Everyone read it)")
                && warnings[0].contains("icacls"),
            "{warnings:?}"
        );
        crate::platform::set_dacl(&p, "D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FA;;;OW)").unwrap();
        warnings.clear();
        SecretRef::File(p.clone())
            .load(&mut |w| warnings.push(w))
            .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    #[cfg(unix)]
    fn file_secret_loses_its_newline_and_warns_when_world_readable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tok");
        std::fs::write(&p, "s3cret\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut warnings = Vec::new();
        let s = SecretRef::File(p.clone())
            .load(&mut |w| warnings.push(w))
            .unwrap();
        assert_eq!(s.expose(), "s3cret");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("readable by every user"));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        warnings.clear();
        SecretRef::File(p.clone())
            .load(&mut |w| warnings.push(w))
            .unwrap();
        assert!(warnings.is_empty());
        std::fs::write(&p, "\n").unwrap();
        assert!(matches!(
            SecretRef::File(p).load(&mut |_| {}),
            Err(SecretError::EmptyFile { .. })
        ));
    }

    #[test]
    fn missing_sources_are_errors() {
        let e = SecretRef::Env("MAESTRO_HA_SURELY_UNSET_VARIABLE".into()).load(&mut |_| {});
        assert!(matches!(e, Err(SecretError::EnvMissing { .. })));
        let e = SecretRef::File("/nonexistent/maestro-ha/secret".into()).load(&mut |_| {});
        assert!(matches!(e, Err(SecretError::Read(_))));
    }

    #[test]
    fn a_secret_too_short_to_mask_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pin");
        std::fs::write(&p, "42\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let e = SecretRef::File(p.clone()).load(&mut |_| {}).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("too short"), "{text}");
        assert!(!text.contains("42"), "{text}");
        std::env::set_var("MAESTRO_HA_TEST_SHORT_SECRET", "ab");
        let e = SecretRef::Env("MAESTRO_HA_TEST_SHORT_SECRET".into())
            .load(&mut |_| {})
            .unwrap_err();
        assert!(e.to_string().contains("too short"), "{e}");
        std::fs::write(&p, "abc").unwrap();
        assert_eq!(
            SecretRef::File(p).load(&mut |_| {}).unwrap().expose(),
            "abc"
        );
    }
}

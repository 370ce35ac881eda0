//! Each agent's own Claude Code configuration directory (`CLAUDE_CONFIG_DIR`), so
//! that agents starting or ending at the same moment never rewrite one shared
//! `.claude.json` (two at once could leave it damaged) and need no pause between
//! their starts.
//!
//! The user's setup goes with every agent: a copy of their `.claude.json` (an API
//! key saved by `/login`, onboarding, MCP servers, projects' settings), a link to
//! every other entry of their configuration directory (settings, `CLAUDE.md`,
//! commands, plugins, and `projects/`, where sessions are kept, so any agent resumes
//! any session and the user finds them where Claude Code keeps them), and their
//! credentials read where they are: `CLAUDE_SECURESTORAGE_CONFIG_DIR` names the
//! directory of `.credentials.json` and the keychain entry, which Claude Code
//! otherwise takes from `CLAUDE_CONFIG_DIR`.
//!
//! The directory lives as long as the agent's process: made as it starts, removed
//! (links, not what they point to) as it ends, so the copy of a saved key and what
//! Claude Code makes there under the user's umask do not stay in `.baton`.

use std::path::{Path, PathBuf};

use baton_protocol::{AgentEnv, Workspace};

/// The variable naming Claude Code's configuration directory.
const CONFIG_DIR: &str = "CLAUDE_CONFIG_DIR";
/// The variable naming where Claude Code keeps credentials, apart from the rest.
const SECURE_STORAGE: &str = "CLAUDE_SECURESTORAGE_CONFIG_DIR";
/// Where sessions are kept, linked even before the user's Claude Code made it.
const SESSIONS: &str = "projects";
/// Where Claude Code keeps copies of the global file: the agent's own.
const BACKUPS: &str = "backups";

/// One agent's own configuration directory and the user's configuration it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnConfig {
    user: UserConfig,
    dir: PathBuf,
}

impl OwnConfig {
    /// The directory of `agent_id`, whose run sent `client` (when it sent nothing,
    /// the daemon's own environment is the agent's); none without a HOME or a
    /// `CLAUDE_CONFIG_DIR` to find the user's configuration by.
    pub fn of_agent(
        workspace: &Workspace,
        agent_id: &str,
        client: Option<&AgentEnv>,
    ) -> Option<OwnConfig> {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let user = match client {
            Some(client) => {
                UserConfig::locate(|name| client.get(name).map(str::to_owned), home.as_deref())
            }
            None => UserConfig::locate(|name| std::env::var(name).ok(), home.as_deref()),
        }?;
        Some(OwnConfig {
            user,
            dir: workspace.agent_config_dir(agent_id),
        })
    }

    /// The variables that make Claude Code use this directory and the user's
    /// credentials.
    pub fn vars(&self) -> Vec<(String, String)> {
        vec![
            (CONFIG_DIR.into(), self.dir.display().to_string()),
            (SECURE_STORAGE.into(), self.user.secure_storage.clone()),
        ]
    }

    /// Makes the directory afresh, holding the user's setup: a copy of the global
    /// file taken now (not copied when it is not JSON: Claude Code then starts a new
    /// one), links to the rest.
    pub fn prepare(&self) -> std::io::Result<()> {
        self.remove();
        self.user.prepare(&self.dir)
    }

    /// Removes the directory; links go, what they point to stays.
    pub fn remove(&self) {
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => tracing::warn!("cannot remove {}: {err}", self.dir.display()),
        }
    }
}

/// The user's Claude Code configuration, as Claude Code itself finds it from the
/// environment the agent would otherwise have had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserConfig {
    /// `$CLAUDE_CONFIG_DIR`, else `~/.claude`.
    dir: PathBuf,
    /// The global configuration file: `.claude.json` in `$CLAUDE_CONFIG_DIR`, else
    /// in HOME; a legacy `.config.json` in the directory comes first.
    global: PathBuf,
    /// What `CLAUDE_SECURESTORAGE_CONFIG_DIR` must say for the user's credentials:
    /// theirs when set, their configuration directory when they chose one, else
    /// empty (Claude Code's default place and keychain entry).
    secure_storage: String,
}

impl UserConfig {
    /// The configuration an agent would use with `var` as its environment and
    /// `home` as HOME; none without either a configuration directory or a HOME.
    pub fn locate(var: impl Fn(&str) -> Option<String>, home: Option<&Path>) -> Option<UserConfig> {
        let chosen = var(CONFIG_DIR).filter(|dir| !dir.is_empty());
        let dir = match &chosen {
            Some(dir) => PathBuf::from(dir),
            None => home?.join(".claude"),
        };
        let legacy = dir.join(".config.json");
        let global =
            if std::fs::metadata(&legacy).is_ok_and(|meta| meta.is_file() && meta.len() > 0) {
                legacy
            } else {
                match &chosen {
                    Some(dir) => Path::new(dir).join(".claude.json"),
                    None => home?.join(".claude.json"),
                }
            };
        let secure_storage = var(SECURE_STORAGE).or(chosen).unwrap_or_default();
        Some(UserConfig {
            dir,
            global,
            secure_storage,
        })
    }

    /// Fills `dir` with the user's setup.
    fn prepare(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let own = dir.join(".claude.json");
        match std::fs::read(&self.global) {
            Ok(bytes) if serde_json::from_slice::<serde_json::Value>(&bytes).is_ok() => {
                std::fs::write(&own, bytes)?;
            }
            Ok(_) => tracing::warn!(
                "{} is not JSON; agents start without a copy of it",
                self.global.display()
            ),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
        std::fs::create_dir_all(self.dir.join(SESSIONS))?;
        for entry in std::fs::read_dir(&self.dir)? {
            let name = entry?.file_name();
            let link = dir.join(&name);
            if kept_apart(&name.to_string_lossy()) || std::fs::symlink_metadata(&link).is_ok() {
                continue;
            }
            std::os::unix::fs::symlink(self.dir.join(&name), link)?;
        }
        Ok(())
    }
}

/// Entries of the user's configuration directory an agent does not share: the
/// global file and its locks and backups (each agent rewrites its own copy), the
/// legacy global file, and the credentials (read in place).
fn kept_apart(name: &str) -> bool {
    name.starts_with(".claude.json")
        || name == BACKUPS
        || matches!(name, ".config.json" | ".credentials.json")
}

/// The names this module sets, which an agent's environment takes from it alone.
pub fn names() -> [&'static str; 2] {
    [CONFIG_DIR, SECURE_STORAGE]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, value)| value.clone())
        }
    }

    #[test]
    fn by_default_the_config_is_in_home_and_the_credentials_where_claude_code_keeps_them() {
        let home = tempfile::tempdir().unwrap();
        let user = UserConfig::locate(vars(&[]), Some(home.path())).unwrap();
        assert_eq!(user.dir, home.path().join(".claude"));
        assert_eq!(user.global, home.path().join(".claude.json"));
        assert_eq!(user.secure_storage, "");
    }

    #[test]
    fn a_chosen_config_dir_holds_the_global_file_and_names_the_credentials() {
        let home = tempfile::tempdir().unwrap();
        let chosen = tempfile::tempdir().unwrap();
        let chosen_dir = chosen.path().to_str().unwrap();
        let user =
            UserConfig::locate(vars(&[(CONFIG_DIR, chosen_dir)]), Some(home.path())).unwrap();
        assert_eq!(user.global, chosen.path().join(".claude.json"));
        assert_eq!(user.secure_storage, chosen_dir);
        let user = UserConfig::locate(
            vars(&[(CONFIG_DIR, chosen_dir), (SECURE_STORAGE, "/keys")]),
            Some(home.path()),
        )
        .unwrap();
        assert_eq!(user.secure_storage, "/keys");
    }

    #[test]
    fn a_legacy_config_file_comes_first() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".claude")).unwrap();
        std::fs::write(home.path().join(".claude/.config.json"), "{}").unwrap();
        let user = UserConfig::locate(vars(&[]), Some(home.path())).unwrap();
        assert_eq!(user.global, home.path().join(".claude/.config.json"));
    }

    #[test]
    fn an_agent_gets_a_copy_of_the_global_file_and_links_to_the_rest() {
        let home = tempfile::tempdir().unwrap();
        let user_dir = home.path().join(".claude");
        std::fs::create_dir(&user_dir).unwrap();
        std::fs::write(home.path().join(".claude.json"), r#"{"primaryApiKey":"k"}"#).unwrap();
        std::fs::write(user_dir.join("settings.json"), "{}").unwrap();
        std::fs::write(user_dir.join(".credentials.json"), "{}").unwrap();
        let user = UserConfig::locate(vars(&[]), Some(home.path())).unwrap();
        let agent = home.path().join("agent");
        let own = OwnConfig {
            user,
            dir: agent.clone(),
        };

        own.prepare().unwrap();

        assert_eq!(
            own.vars(),
            vec![
                (CONFIG_DIR.into(), agent.display().to_string()),
                (SECURE_STORAGE.into(), String::new()),
            ]
        );
        let copy = agent.join(".claude.json");
        assert!(!std::fs::symlink_metadata(&copy).unwrap().is_symlink());
        assert_eq!(
            std::fs::read_to_string(&copy).unwrap(),
            r#"{"primaryApiKey":"k"}"#
        );
        for linked in ["settings.json", SESSIONS] {
            assert_eq!(
                std::fs::read_link(agent.join(linked)).unwrap(),
                user_dir.join(linked)
            );
        }
        assert!(!agent.join(".credentials.json").exists());
        // The next start takes the user's file afresh.
        std::fs::write(home.path().join(".claude.json"), r#"{"numStartups":2}"#).unwrap();
        own.prepare().unwrap();
        assert_eq!(
            std::fs::read_to_string(&copy).unwrap(),
            r#"{"numStartups":2}"#
        );
        // The end removes the directory and its links, not what they point to.
        own.remove();
        assert!(!agent.exists());
        assert!(user_dir.join("settings.json").exists());
        assert!(user_dir.join(SESSIONS).is_dir());
    }

    #[test]
    fn a_global_file_that_is_not_json_is_not_copied() {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join(".claude.json"), "{\"trunc").unwrap();
        let user = UserConfig::locate(vars(&[]), Some(home.path())).unwrap();
        let agent = home.path().join("agent");
        user.prepare(&agent).unwrap();
        assert!(agent.is_dir());
        assert!(!agent.join(".claude.json").exists());
    }
}

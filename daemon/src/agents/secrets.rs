//! The secrets of an agent this daemon starts (`baton_protocol::secrets` says what
//! counts as one and how it is hidden), so that they are kept out of its log, its
//! result and the notifications.

use baton_protocol::secrets::Secrets;

use super::process::Environment;

/// The secrets of an agent started with `env` by this daemon: the daemon's own
/// variables it keeps, and those the run sets.
pub fn of(env: &Environment) -> Secrets {
    let own = std::env::vars().filter(|(name, _)| !env.unset.contains(name));
    Secrets::among(own.chain(env.set.iter().cloned()))
}

"""The environment a run's agents get from this process, sent with each run the
client starts (``baton/run``'s ``env``), as the CLI and the editor send theirs: a key
exported after the daemon started still reaches the agents.

The daemon refuses any other name, so this list is the daemon's own
(``PASSED_PREFIXES`` and ``PASSED_NAMES`` in protocol/src/agent_env.rs); a test
checks that the two agree.
"""

from __future__ import annotations

from typing import Dict, Mapping

__all__ = ["PASSED_PREFIXES", "PASSED_NAMES", "agent_environment"]

#: Claude Code's own variables and the model providers'.
PASSED_PREFIXES = ("ANTHROPIC_", "CLAUDE_", "AWS_", "GOOGLE_", "GCLOUD_", "CLOUD_ML_", "VERTEX_", "AZURE_")

#: Proxies (either case) and the certificates a proxy may need.
PASSED_NAMES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "NODE_EXTRA_CA_CERTS",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)


def agent_environment(environ: Mapping[str, str]) -> Dict[str, str]:
    """The variables of ``environ`` that a run's agents get."""
    return {
        name: value
        for name, value in environ.items()
        if name in PASSED_NAMES or name.startswith(PASSED_PREFIXES)
    }

"""The only doors to the outside world: one adapter for GitHub, one for the deploy provider.

Services never speak HTTP themselves; they call `github.get_adapter()` or
`provider.get_adapter()`. Tests install fakes with `set_adapter(...)`.
"""

from dataclasses import dataclass


class AdapterError(Exception):
    """A remote call failed; the message is safe to show (it never carries a token)."""


@dataclass(frozen=True)
class RepoRef:
    owner: str
    name: str

"""keystoneauth's auth plugins, kept from waiting for ever on themselves.

keystoneauth retries a version discovery of the auth_url that answered 401 with authentication,
from inside the lock ``get_access`` holds while it gets the token: the plugin then waits on its
own lock, and every command (and the agent's cycle) hangs with nothing said. ``guard_reentry``
makes that second call raise ``AuthLoop``, which ``client`` names as Keystone's.
"""

import threading
import typing

from keystoneauth1 import exceptions as ks_exc


class AuthLoop(ks_exc.AuthorizationFailure):
    """keystoneauth asked for a token while getting one (``guard_reentry``)."""


def guard_reentry(auth: typing.Any) -> None:
    """Make an auth plugin that asks for its own token while getting it fail, instead of waiting
    forever on its own lock: keystoneauth retries a version discovery of the auth_url that
    answered 401 with authentication, from inside ``get_access``'s lock."""
    get_access = getattr(auth, "get_access", None)
    if get_access is None or getattr(get_access, "guarded", False):
        return
    local = threading.local()

    def guarded(session: typing.Any, **kwargs: typing.Any) -> typing.Any:
        if getattr(local, "active", False):
            raise AuthLoop("it answered its version discovery with 401 Unauthorized: it is not Keystone's URL, "
                           "or something before Keystone asks for credentials")
        local.active = True
        try:
            return get_access(session, **kwargs)
        finally:
            local.active = False

    guarded.guarded = True  # type: ignore[attr-defined]
    auth.get_access = guarded

"""Placement's error codes and the typed exceptions they become.

Branch on these, never on an error's detail text. The code strings are Placement's API and
never change (placement/errors.py); they are returned from microversion 1.23 on.
"""

import typing

from pmem_placement.errors import ERROR
from pmem_placement.errors import EXIT_CONFIG
from pmem_placement.errors import ConfigError
from pmem_placement.errors import SyncError

CONCURRENT_UPDATE = "placement.concurrent_update"
INVENTORY_INUSE = "placement.inventory.inuse"
DUPLICATE_NAME = "placement.duplicate_name"
PROVIDER_IN_USE = "placement.resource_provider.inuse"
PROVIDER_CANNOT_DELETE_PARENT = "placement.resource_provider.cannot_delete_parent"


class PlacementError(SyncError):
    """Placement answered with an error; keeps the status, code and detail it gave."""

    def __init__(self, method: str, path: str, status: int, code: str | None, detail: str) -> None:
        self.method, self.path, self.status, self.code, self.detail = method, path, status, code, detail
        super().__init__(f"Placement answered {method} {path} with {status} {code or ''}: {detail}".replace("  ", " "))


class Conflict(PlacementError):
    """A concurrent change made this write stale; re-read and try again."""


class ConcurrentUpdate(Conflict):
    pass


class InventoryInUse(Conflict):
    pass


class ProviderInUse(Conflict):
    pass


class DuplicateName(PlacementError):
    pass


class CannotDeleteParent(PlacementError):
    pass


class NotFound(PlacementError):
    pass


class Forbidden(PlacementError):
    """Placement refused the credentials: the [placement] auth options are wrong."""

    agent_state = ERROR

    def __str__(self) -> str:
        return (f"Placement refused {self.method} {self.path} with {self.status}: check the "
                f"[placement] auth options (user, project, role admin): {self.detail}")


class Unavailable(SyncError):
    """Placement could not be reached, or kept failing, after keystoneauth's own retries."""


class CredentialsRefused(SyncError):
    """Keystone refused the [placement] credentials: an operator has to fix them (exit 2, as a
    configuration error; nothing was sent to Placement)."""

    exit_status = EXIT_CONFIG
    agent_state = ERROR


class TlsVerificationFailed(SyncError):
    """Placement's (or Keystone's) certificate could not be verified with [placement]cafile."""

    agent_state = ERROR


class NoEndpoint(SyncError):
    """No Placement endpoint: none in the service catalog for the configured interface and
    region, and no [placement]endpoint_override."""

    agent_state = ERROR


class AuthOptionsUnusable(ConfigError):
    """keystoneauth refuses the [placement] auth options before sending anything (a project and
    a system scope at once). Nothing is written."""


class CaFileUnreadable(ConfigError):
    """[placement]cafile (or certfile, keyfile) cannot be read. Nothing is written."""


class NotJson(SyncError):
    """A success answer that is not Placement's JSON: the endpoint is some other web server."""

    agent_state = ERROR


class UnexpectedAnswer(SyncError):
    """A success answer without what Placement's answers hold (a key, a type): something between
    us and Placement changed it, or it is not Placement."""

    agent_state = ERROR


REQUIRED_MICROVERSION = "1.26"
"""1.26 allows reserved == total (retiring a class); it also brings nested providers (1.14),
create-if-missing resource classes (1.7) and error codes (1.23)."""


class VersionTooOld(SyncError):
    """Placement does not serve the microversion this tool needs."""

    agent_state = ERROR


_BY_CODE: dict[str, type[PlacementError]] = {
    CONCURRENT_UPDATE: ConcurrentUpdate,
    INVENTORY_INUSE: InventoryInUse,
    PROVIDER_IN_USE: ProviderInUse,
    DUPLICATE_NAME: DuplicateName,
    PROVIDER_CANNOT_DELETE_PARENT: CannotDeleteParent,
}


def _first_error(body: typing.Any) -> dict[str, typing.Any]:
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return errors[0]
    return {}


def from_response(method: str, path: str, status: int, body: typing.Any, text: str) -> Exception:
    """The exception for an error answer."""
    error = _first_error(body)
    code = error.get("code") if isinstance(error.get("code"), str) else None
    detail = " ".join(str(error.get("detail") or text or "").split())[:500]
    if status == 406 and "max_version" in error:
        return VersionTooOld(
            f"Placement serves microversions up to {error['max_version']}; pmem-placement needs "
            f"{REQUIRED_MICROVERSION} or later (Placement of OpenStack Rocky or newer)"
        )
    if status >= 500:
        return Unavailable(f"Placement answered {method} {path} with {status}: {detail}")
    if status in (401, 403):
        return Forbidden(method, path, status, code, detail)
    if code in _BY_CODE:
        return _BY_CODE[code](method, path, status, code, detail)
    if status == 404:
        return NotFound(method, path, status, code, detail)
    return PlacementError(method, path, status, code, detail)


class Stale(Conflict):
    """The generation moved between two of our own reads: start the attempt over."""

    def __init__(self, name: str) -> None:
        super().__init__("GET", name, 409, None, "changed while it was being read")

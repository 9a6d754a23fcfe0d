"""The only module that speaks HTTP to Placement.

Every request carries microversion 1.26, so an older Placement answers the first request with
406 and its max version, which becomes ``VersionTooOld``: the version is checked on every
request at no extra cost. Error answers become the typed exceptions of ``errors``; transport
failures (after keystoneauth's own connect and status-code retries, configured in
[placement]) become ``Unavailable``; what an operator must fix (credentials Keystone refused, a
certificate that does not verify, no endpoint, an unreadable CA file, an answer that is not JSON)
its own exception. Nothing here retries, logs payloads or decides policy.
"""

import collections
import functools
import ssl
import typing
import urllib.parse

from keystoneauth1 import adapter as ks_adapter
from keystoneauth1 import exceptions as ks_exc

from pmem_placement.desired import Inventory
from pmem_placement.placement import errors
from pmem_placement.placement.auth import AuthLoop
from pmem_placement.placement.auth import guard_reentry

# GET /allocations/{consumer} returns consumer_type from this microversion on.
CONSUMER_TYPE_MICROVERSION = "1.38"
# Up to this many names, create-if-missing costs one PUT each; beyond it, one listing first.
_ENSURE_DIRECTLY = 2


def _reason(exc: BaseException) -> str:
    """The root cause an operator can act on ("Connection refused"), not urllib3's retelling."""
    if isinstance(exc, ks_exc.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, ks_exc.RequestTimeout):
        return "no answer within [placement]timeout"
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    for link in chain:
        if isinstance(link, OSError) and link.strerror:
            return str(link.strerror)
        nested = [arg for arg in link.args if isinstance(arg, BaseException)]
        if nested:
            return _reason(nested[0])
    return _one_line(chain[-1])


def _connection_failed(exc: BaseException) -> bool:
    """Whether a connection failure is behind ``exc`` (keystoneauth wraps it in others)."""
    seen: BaseException | None = exc
    chain: list[BaseException] = []
    while seen is not None and seen not in chain:
        chain.append(seen)
        nested = [arg for arg in seen.args if isinstance(arg, BaseException)]
        seen = seen.__cause__ or seen.__context__ or (nested[0] if nested else None)
    return any(isinstance(link, ks_exc.ConnectFailure | ConnectionError) for link in chain) or \
        "Name or service not known" in str(exc) or "Connection refused" in str(exc)


def _one_line(exc: BaseException, limit: int = 300) -> str:
    """The exception's text on one line, cut at ``limit`` characters (a web page quoted whole by
    keystoneauth is no message)."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _no_endpoint(exc: BaseException, versions: str = "") -> errors.NoEndpoint:
    also = f"{versions} (Placement may serve no such version), " if versions else ""
    return errors.NoEndpoint(
        f"no Placement endpoint: {_one_line(exc)} (check [placement] valid_interfaces, region_name, {also}"
        "or set endpoint_override)")


def _versions(adapter: ks_adapter.Adapter) -> str:
    """The [placement] version options set, as written: what keystoneauth also matches endpoints on."""
    return ", ".join(f"{name} = {value}" for name in ("version", "min_version", "max_version")
                     if (value := getattr(adapter, name, None)))


def _keystone(adapter: ks_adapter.Adapter) -> str | None:
    """Keystone's URL ([placement]auth_url) while no token has been had from it: a failure then is
    Keystone's, not Placement's."""
    auth = adapter.auth or getattr(adapter.session, "auth", None)
    url = getattr(auth, "auth_url", None)
    if url and getattr(auth, "auth_ref", None) is None:
        return str(url)
    return None


def _transport_error(exc: Exception, method: str, path: str, where: str, keystone: str | None = None,
                     versions: str = "") -> Exception:
    """What an exception raised while sending a request means to an operator; ``keystone``: the
    URL of the Keystone the request had to authenticate with first, and could not yet;
    ``versions``: the version options set."""
    if isinstance(exc, ks_exc.EndpointNotFound):
        return _no_endpoint(exc, versions)
    at = f" at {keystone}" if keystone else ""
    if isinstance(exc, AuthLoop):
        return errors.CredentialsRefused(f"Keystone{at} ([placement]auth_url) cannot be authenticated with: {exc}")
    if isinstance(exc, ks_exc.AuthorizationFailure) and not _connection_failed(exc):
        # raised before anything is sent: options that contradict each other (two scopes)
        return errors.AuthOptionsUnusable(f"[placement]: keystoneauth cannot authenticate with these auth options: "
                                          f"{_one_line(exc)}")
    if isinstance(exc, ks_exc.http.HttpError):
        # Only authentication raises: Placement's own answers are never raised (raise_exc=False).
        if exc.http_status in (401, 403):
            return errors.CredentialsRefused(
                f"Keystone{at} refused the [placement] credentials with {exc.http_status}: check auth_url, "
                f"username, password, project and domains: {_one_line(exc)}")
        if exc.http_status == 400 and keystone:
            return errors.CredentialsRefused(
                f"Keystone{at} refused the [placement] credentials as incomplete with 400: check username (or "
                f"user_id), project_name (or project_id) and the domains: {_one_line(exc)}")
        return errors.Unavailable(f"authentication for Placement failed: Keystone{at} answered: {_one_line(exc)}")
    if isinstance(exc, ks_exc.SSLError):
        if keystone:
            return errors.TlsVerificationFailed(
                f"TLS with Keystone{at} ([placement]auth_url) failed: {_reason(exc)}; check [placement]cafile")
        return errors.TlsVerificationFailed(
            f"TLS with Placement{where} failed ({method} {path}): {_reason(exc)}; check [placement]cafile")
    if isinstance(exc, ks_exc.DiscoveryFailure) and keystone and not _connection_failed(exc):
        return errors.Unavailable(f"Keystone{at} ([placement]auth_url) did not answer as Keystone: {_reason(exc)}")
    if isinstance(exc, ks_exc.ClientException):
        if keystone:
            return errors.Unavailable(f"cannot reach Keystone{at} ([placement]auth_url) to authenticate to "
                                      f"Placement: {_reason(exc)}")
        # Connection refused, timeouts.
        return errors.Unavailable(f"cannot reach Placement{where} ({method} {path}): {_reason(exc)}")
    # requests raises a bare OSError for a CA bundle, certificate or key it cannot read.
    return errors.CaFileUnreadable(
        f"[placement]: cannot use the TLS files (cafile, certfile, keyfile): {_one_line(exc)}")


F = typing.TypeVar("F", bound=typing.Callable[..., typing.Any])


def _answer(method: F) -> F:
    """A method that reads Placement's answers: an answer without what it needs is one error naming
    the request, not a KeyError."""
    @functools.wraps(method)
    def reading(self: "Client", *args: typing.Any, **kwargs: typing.Any) -> typing.Any:
        try:
            return method(self, *args, **kwargs)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            what = f"no {exc.args[0]!r}" if isinstance(exc, KeyError) and exc.args else _one_line(exc)
            raise errors.UnexpectedAnswer(
                f"Placement's answer to {self._last} is not shaped as Placement's ({what}): is "
                "[placement]endpoint_override (or endpoint, or the catalog) Placement, with nothing in between "
                "that changes its answers?") from exc
    return typing.cast(F, reading)


def _number(value: typing.Any, what: str, ratio: bool = False) -> typing.Any:
    """``value`` when it is a whole number (or, for a ``ratio``, any number); a TypeError naming
    ``what`` otherwise (``_answer`` makes it one line)."""
    if isinstance(value, bool) or not isinstance(value, int | float if ratio else int):
        raise TypeError(f"{what} is {type(value).__name__} {value!r}")
    return value


def _providers(data: typing.Any) -> list[dict[str, typing.Any]]:
    """The providers of a listing, each with what is read of it (a KeyError for what is missing)."""
    found = list(data["resource_providers"])
    for provider in found:
        for key in ("uuid", "name", "generation"):
            provider[key]  # noqa: B018 - raises KeyError when Placement's answer lacks it
    return found


def _always_there(path: str) -> bool:
    """Whether Placement answers ``path`` whatever it holds (collections, create-if-missing PUTs)."""
    bare = path.split("?")[0]
    return bare in ("/", "/resource_providers", "/resource_classes", "/traits") or (
        bare.count("/") == 2 and bare.startswith(("/resource_classes/", "/traits/")))


class Client:
    def __init__(self, adapter: ks_adapter.Adapter,
                 on_request: typing.Callable[[], None] | None = None) -> None:
        self._adapter = adapter
        guard_reentry(adapter.auth or getattr(adapter.session, "auth", None))
        self._on_request = on_request
        self._last = ""
        self.requests: collections.Counter[str] = collections.Counter()
        """Requests sent, by HTTP method."""

    @property
    def endpoint(self) -> str:
        keystone = _keystone(self._adapter)
        try:
            return str(self._adapter.get_endpoint() or "")
        except (ks_exc.ClientException, OSError) as exc:
            raise _transport_error(exc, "GET", "/", "", keystone, _versions(self._adapter)) from exc

    def _tls_files_problem(self) -> str | None:
        """Why [placement]cafile cannot be used as a CA bundle, if it cannot (read locally)."""
        verify = getattr(self._adapter.session, "verify", None)
        if not isinstance(verify, str):
            return None
        try:
            ssl.create_default_context(cafile=verify)
        except (ssl.SSLError, OSError) as exc:
            return (f"[placement]: cannot use the TLS files (cafile, certfile, keyfile): {verify}: "
                    f"{getattr(exc, 'strerror', None) or _one_line(exc)}")
        return None

    def _call(
        self, method: str, path: str, body: typing.Any = None, ok: tuple[int, ...] = (200,),
        microversion: str = errors.REQUIRED_MICROVERSION,
    ) -> typing.Any:
        self.requests[method] += 1
        if self._on_request is not None:
            self._on_request()
        self._last = f"{method} {path}"
        keystone = _keystone(self._adapter)
        try:
            resp = self._adapter.request(
                path, method, json=body, microversion=microversion, raise_exc=False
            )
        except (ks_exc.ClientException, OSError) as exc:
            keystone = keystone if _keystone(self._adapter) else None  # still no token: Keystone failed
            try:
                where = "" if keystone else f" at {self._adapter.get_endpoint()}"
            except (ks_exc.ClientException, OSError):
                where = ""
            if isinstance(exc, ks_exc.SSLError):
                problem = self._tls_files_problem()
                if problem:  # a CA file that is not one: the operator's to fix, like a missing one
                    raise errors.CaFileUnreadable(problem) from exc
            raise _transport_error(exc, method, path, where, keystone, _versions(self._adapter)) from exc
        try:
            data = resp.json() if resp.content else None
        except ValueError:
            data = None
            if resp.status_code in ok:
                raise errors.NotJson(
                    f"{method} {resp.url} answered {resp.status_code} with "
                    f"{resp.headers.get('Content-Type') or 'no Content-Type'}, not Placement's JSON"
                    + self._where_placement_is(resp.url, path)) from None
        if resp.status_code == 404 and _always_there(path):
            # Placement never answers 404 for these: the endpoint is not Placement's root.
            raise errors.NotJson(f"{method} {resp.url} answered 404, which Placement never answers there"
                                 + self._where_placement_is(resp.url, path))
        if resp.status_code not in ok:
            raise errors.from_response(method, path, resp.status_code, data, resp.text)
        if resp.status_code == 200 and not isinstance(data, dict):
            raise errors.NotJson(
                f"{method} {resp.url} answered 200 with {resp.headers.get('Content-Type') or 'no Content-Type'} "
                "and no JSON object, not Placement's answer" + self._where_placement_is(resp.url, path))
        return data

    def _where_placement_is(self, url: str, path: str) -> str:
        """What to set instead, looked for only once something answered that is not Placement: the
        endpoint should be the URL Placement answers its version document at. Tries the URL's
        origin and the endpoint's parents (at most 3 unauthenticated GETs, no retries)."""
        endpoint = url.split("?")[0].removesuffix(path.split("?")[0])
        parts = urllib.parse.urlsplit(endpoint)
        segments = [s for s in parts.path.split("/") if s]
        candidates = [urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/".join(segments[:i]), "", ""))
                      for i in range(len(segments) - 1, -1, -1)][:3]
        found = next((c for c in candidates if self._answers_as_placement(c)), None)
        said = (f": is [placement]endpoint_override (or endpoint, or the catalog) Placement's root? It "
                f"should be the URL at which Placement answers its version document, e.g. "
                f"http://controller:8778 or https://controller/placement (now {endpoint or url})")
        return said + (f"; {found} answers as Placement" if found else "")

    def _answers_as_placement(self, url: str) -> bool:
        try:
            resp = self._adapter.session.request(url.rstrip("/") + "/", "GET", authenticated=False, raise_exc=False,
                                                 connect_retries=0, status_code_retries=0)
            data = resp.json()
        except (ks_exc.ClientException, OSError, ValueError):
            return False
        versions = data.get("versions") if isinstance(data, dict) else None
        return resp.status_code == 200 and isinstance(versions, list) and any(
            isinstance(v, dict) and "min_version" in v for v in versions)

    # Reads

    @_answer
    def provider_by_name(self, name: str) -> dict[str, typing.Any] | None:
        query = urllib.parse.urlencode({"name": name})
        found = _providers(self._call("GET", f"/resource_providers?{query}"))
        return found[0] if found else None

    @_answer
    def tree(self, root_uuid: str) -> list[dict[str, typing.Any]]:
        """Every provider in the tree holding ``root_uuid`` ([] when there is none)."""
        query = urllib.parse.urlencode({"in_tree": root_uuid})
        return _providers(self._call("GET", f"/resource_providers?{query}"))

    @_answer
    def inventories(self, uuid: str) -> tuple[int, dict[str, Inventory]]:
        data = self._call("GET", f"/resource_providers/{uuid}/inventories")
        inv = {rc: Inventory.from_api({f: _number(rec[f], f"{rc} {f}", f == "allocation_ratio")
                                       for f in Inventory.FIELDS if f in rec})
               for rc, rec in data["inventories"].items()}
        return _number(data["resource_provider_generation"], "resource_provider_generation"), inv

    @_answer
    def traits(self, uuid: str) -> tuple[int, frozenset[str]]:
        data = self._call("GET", f"/resource_providers/{uuid}/traits")
        traits = data["traits"]
        if not isinstance(traits, list) or not all(isinstance(t, str) for t in traits):
            raise TypeError(f"traits is {traits!r}, not a list of names")
        return _number(data["resource_provider_generation"], "resource_provider_generation"), frozenset(traits)

    @_answer
    def usages(self, uuid: str) -> tuple[int, dict[str, int]]:
        data = self._call("GET", f"/resource_providers/{uuid}/usages")
        usages = {rc: _number(n, f"{rc} usage") for rc, n in dict(data["usages"]).items()}
        return _number(data["resource_provider_generation"], "resource_provider_generation"), usages

    # Writes

    @_answer
    def create_provider(self, name: str, uuid: str, parent_uuid: str | None) -> int:
        """Create a provider; its generation (0) is returned."""
        body = {"name": name, "uuid": uuid}
        if parent_uuid:
            body["parent_provider_uuid"] = parent_uuid
        return int(self._call("POST", "/resource_providers", body)["generation"])

    def delete_provider(self, uuid: str) -> None:
        """Delete a provider; one already gone (a DELETE replayed after its answer was lost) is deleted."""
        self._call("DELETE", f"/resource_providers/{uuid}", ok=(204, 404))

    @_answer
    def set_traits(self, uuid: str, generation: int, traits: typing.Iterable[str]) -> int:
        body = {"resource_provider_generation": generation, "traits": sorted(traits)}
        return int(self._call("PUT", f"/resource_providers/{uuid}/traits", body)["resource_provider_generation"])

    @_answer
    def set_inventories(self, uuid: str, generation: int, inventories: typing.Mapping[str, Inventory]) -> int:
        body = {
            "resource_provider_generation": generation,
            "inventories": {rc: inv.as_dict() for rc, inv in inventories.items()},
        }
        data = self._call("PUT", f"/resource_providers/{uuid}/inventories", body)
        return int(data["resource_provider_generation"])

    @_answer
    def ensure_resource_classes(self, names: typing.Sequence[str]) -> None:
        """Create the custom resource classes that do not exist yet."""
        missing = list(names)
        if len(missing) > _ENSURE_DIRECTLY:
            existing = {rc["name"] for rc in self._call("GET", "/resource_classes")["resource_classes"]}
            missing = [n for n in missing if n not in existing]
        for name in missing:
            self._call("PUT", f"/resource_classes/{name}", ok=(201, 204))

    @_answer
    def ensure_traits(self, names: typing.Sequence[str]) -> None:
        """Create the custom traits that do not exist yet."""
        missing = list(names)
        if len(missing) > _ENSURE_DIRECTLY:
            query = urllib.parse.urlencode({"name": "in:" + ",".join(missing)})
            existing = set(self._call("GET", f"/traits?{query}")["traits"])
            missing = [n for n in missing if n not in existing]
        for name in missing:
            self._call("PUT", f"/traits/{name}", ok=(201, 204))

    # Consumers (reads)

    def provider_allocations(self, uuid: str) -> dict[str, dict[str, int]]:
        """Consumer uuid -> the resources it holds from provider ``uuid``."""
        return self.allocations(uuid)[1]

    @_answer
    def allocations(self, uuid: str) -> tuple[int, dict[str, dict[str, int]]]:
        """The provider's generation, and consumer uuid -> the resources it holds from it."""
        data = self._call("GET", f"/resource_providers/{uuid}/allocations")
        return (int(data["resource_provider_generation"]),
                {consumer: dict(rec["resources"]) for consumer, rec in data["allocations"].items()})

    @_answer
    def consumer_type(self, consumer: str) -> str | None:
        """The consumer's type (``INSTANCE``, ``MIGRATION``, ...): microversion 1.38 carries it."""
        data = self._call("GET", f"/allocations/{consumer}", microversion=CONSUMER_TYPE_MICROVERSION)
        return data.get("consumer_type")

    @_answer
    def rename_provider(self, uuid: str, name: str, parent_uuid: str | None) -> int:
        """Give a provider a new name (its generation does not move; it is returned)."""
        body: dict[str, str] = {"name": name}
        if parent_uuid:
            body["parent_provider_uuid"] = parent_uuid
        return int(self._call("PUT", f"/resource_providers/{uuid}", body)["generation"])

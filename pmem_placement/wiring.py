"""Configuration -> the objects that do the work, shared by the one-shot and the agent.

Everything that can fail because of configuration or discovery fails here, before any request
is sent, so that such a failure never writes anything.
"""

import typing
import urllib.parse

from keystoneauth1 import adapter as ks_adapter
from keystoneauth1 import discover as ks_discover
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
from oslo_config import cfg
from oslo_log import log as logging

from pmem_placement import discover
from pmem_placement import mapping
from pmem_placement.conf import placement as placement_conf
from pmem_placement.conf import pmem as pmem_conf
from pmem_placement.discover.model import Namespace
from pmem_placement.errors import ConfigError
from pmem_placement.placement.client import Client
from pmem_placement.reconcile import HostSpec
from pmem_placement.reconcile import Reconciler
from pmem_placement.retry import RetryPolicy
from pmem_placement.state import StateStore

LOG = logging.getLogger(__name__)


def host_spec(conf: cfg.ConfigOpts) -> tuple[HostSpec, list[Namespace]]:
    """What this host wants in Placement; raises ConfigError or DiscoveryError."""
    labels = mapping.parse(conf.pmem.namespaces)
    traits = mapping.traits(conf.pmem.traits)
    root_uuid = pmem_conf.root_provider_uuid(conf)
    if not conf.host:
        raise ConfigError("[DEFAULT]host is empty: set it to the compute node's provider name")
    namespaces = discover.discover(conf) if labels else []
    found = mapping.resolve(labels, namespaces, conf.pmem.unhealthy, conf.pmem.reserved_namespaces)
    spec = HostSpec(
        host=conf.host,
        root_uuid=root_uuid,
        classes={rc: len(names) for rc, names in found.configured.items()},
        traits=traits,
        namespaces=found.configured,
        uuids={name: ns.uuid for name, ns in found.present.items() if ns.uuid},
        withdrawn=found.withdrawn_by_class(),
        problems=tuple(found.problems),
        warnings=tuple(found.warnings),
        report=found.report(),
    )
    return spec, namespaces


def client(conf: cfg.ConfigOpts, os_cloud: str | None = None,
           on_request: typing.Callable[[], None] | None = None) -> Client:
    """The Placement client: from clouds.yaml when ``os_cloud`` names a cloud, else from [placement]."""
    return Client(placement_adapter(conf, os_cloud), on_request=on_request)


def placement_adapter(conf: cfg.ConfigOpts, os_cloud: str | None = None) -> ks_adapter.Adapter:
    """A keystoneauth1 Adapter: from clouds.yaml when ``os_cloud`` names a cloud, else from
    [placement] exactly as nova builds its own."""
    if os_cloud:
        return _cloud_adapter(os_cloud)
    auth = load_auth(conf)
    if conf.placement.insecure:
        LOG.warning(
            "[placement]insecure = true: Placement's TLS certificate is NOT verified; anyone on the "
            "network path can impersonate Placement and capture the credentials. Use cafile instead."
        )
        silence_insecure_request_warnings()
    return _adapter(conf, auth)


def check_placement(conf: cfg.ConfigOpts) -> None:
    """[placement] checked as building the client checks it (the auth plugin, the session, the
    adapter), a ConfigError naming what is wrong; sends nothing."""
    _adapter(conf, load_auth(conf))


def _adapter(conf: cfg.ConfigOpts, auth: typing.Any) -> ks_adapter.Adapter:
    group = placement_conf.GROUP
    _check_transport(conf)
    try:
        session = ks_loading.load_session_from_conf_options(conf, group, auth=auth)
        return ks_loading.load_adapter_from_conf_options(conf, group, session=session, auth=auth)
    except (TypeError, ValueError) as exc:  # what keystoneauth checks itself: valid_interfaces, versions
        raise ConfigError(f"[placement]: {exc}") from exc


def _is_url(text: str) -> bool:
    """Whether ``text`` is an http(s) URL with a host (an unbalanced IPv6 bracket is not)."""
    try:
        parts = urllib.parse.urlsplit(text)
        return parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port or 1) > 0
    except ValueError:
        return False


def _check_transport(conf: cfg.ConfigOpts) -> None:
    """What keystoneauth would take for an outage: an endpoint that is no URL, no timeout at all."""
    for option in ("endpoint", "endpoint_override"):
        url = conf.placement.get(option) if option in conf.placement else None
        if url and not _is_url(url):
            raise ConfigError(f"[placement]{option} = {url!r} is not a URL: http:// or https:// then a host, "
                              "e.g. https://placement.example.org:8778")
    versions = {}
    for option in ("version", "min_version", "max_version"):
        value = conf.placement.get(option) if option in conf.placement else None
        if value:
            try:
                versions[option] = ks_discover.normalize_version_number(value)
            except TypeError:
                raise ConfigError(f"[placement]{option} = {value!r} is not a version: e.g. 1.0, or latest") from None
    if "min_version" in versions and "max_version" in versions and versions["min_version"] > versions["max_version"]:
        raise ConfigError(f"[placement]min_version = {conf.placement.min_version!r} is above max_version = "
                          f"{conf.placement.max_version!r}")
    timeout = conf.placement.timeout
    if timeout is not None and timeout <= 0:
        raise ConfigError(f"[placement]timeout = {timeout:g} is not a time to wait: seconds, more than 0")


def load_auth(conf: cfg.ConfigOpts) -> typing.Any:
    """The [placement] auth plugin, loaded as keystoneauth loads it, or a ConfigError naming the
    option to fix: none or no such plugin, a required option or secret not set (with the misspelt
    option that was meant), an auth_url that is no URL, admin_token without an endpoint. Sends
    nothing."""
    from pmem_placement.conf import validate

    group = placement_conf.GROUP
    written = validate.raw_value(conf, group, "auth_type")
    where = f" in {written[1]}" if written else ""
    try:
        auth = ks_loading.load_auth_from_conf_options(conf, group)
    except ks_exc.auth_plugins.NoMatchingPlugin as exc:
        raise ConfigError(f"[placement]auth_type{where}: no such auth plugin {exc.name!r}") from exc
    except ks_exc.auth_plugins.MissingRequiredOptions as exc:
        names = ", ".join(o.dest for o in exc.options)
        hints = "".join(validate.misspelt(conf, group, o.dest) for o in exc.options)
        raise ConfigError(f"[placement]: auth_type {conf.placement.auth_type!r}{where} needs {names}{hints}") from exc
    except ks_exc.OptionError as exc:  # the plugin's own check (v3applicationcredential: its secret)
        _needed_secrets(conf)
        raise ConfigError(f"[placement]: auth_type {conf.placement.auth_type!r}: {exc}") from exc
    if auth is None:
        raise ConfigError(
            "[placement]auth_type is not set: pass the file that holds [placement] too (e.g. "
            "--config-file /etc/pmem-placement/secrets.conf, as the systemd unit does), or copy the "
            "[placement] section of nova.conf, or use auth_type = admin_token with endpoint and token "
            "for a Placement without Keystone" + validate.misspelt(conf, group, "auth_type"))
    _needed_secrets(conf)
    url = conf.placement.get("auth_url") if "auth_url" in conf.placement else None
    if url and not _is_url(url):
        raise ConfigError(f"[placement]auth_url = {url!r} is not a URL: http:// or https:// then a host, e.g. "
                          "https://keystone.example.org:5000/v3")
    if conf.placement.auth_type == "admin_token" and not (conf.placement.get("endpoint")
                                                          or conf.placement.endpoint_override):
        raise ConfigError("[placement]endpoint is not set, and auth_type = admin_token needs it (or "
                          "endpoint_override): Placement's URL" + validate.misspelt(conf, group, "endpoint"))
    return auth


# The secrets an auth plugin cannot authenticate without, although keystoneauth does not mark them
# required (it would prompt for them): unset, the plugin fails only when it first sends a request.
NEEDED_SECRETS = ("password", "token", "passcode", "application_credential_secret")


def _needed_secrets(conf: cfg.ConfigOpts) -> None:
    """Refuse an auth plugin whose secret is not set, naming the option (and a misspelt one)."""
    from pmem_placement.conf import validate

    auth_type = conf.placement.auth_type
    for opt in ks_loading.get_auth_plugin_conf_options(auth_type):
        if opt.dest in NEEDED_SECRETS and conf.placement.get(opt.dest) in (None, ""):
            raise ConfigError(f"[placement]{opt.dest} is not set, and auth_type = {auth_type} needs it"
                              + validate.misspelt(conf, placement_conf.GROUP, opt.dest))


def set_library_logging(conf: cfg.ConfigOpts) -> None:
    """With debug on, log every Placement request (keystoneauth masks tokens and passwords).
    Otherwise only the libraries' errors: keystoneauth warns on each transport retry (every
    cycle while Placement is down) and stevedore on an unknown auth plugin, and our own message
    already says what failed and why."""
    level = logging.DEBUG if conf.debug else logging.ERROR
    for library in ("keystoneauth", "stevedore"):
        logging.getLogger(library).logger.setLevel(level)


SECRET_OPTIONS = ("password", "token", "application_credential_secret", "client_secret", "passcode")


def exposed_secrets(conf: cfg.ConfigOpts) -> list[str]:
    """The config files that hold a [placement] secret and that every user can read."""
    import configparser
    import os
    import stat

    from pmem_placement.conf import validate

    exposed = []
    for path in validate.config_files(conf):
        parser = configparser.RawConfigParser(strict=False, interpolation=None)
        try:
            parser.read(path)
            mode = os.stat(path).st_mode
        except (OSError, configparser.Error):
            continue
        has_secret = parser.has_section(placement_conf.GROUP) and any(
            parser.get(placement_conf.GROUP, key, fallback="") for key in SECRET_OPTIONS)
        if has_secret and mode & stat.S_IROTH:
            exposed.append(path)
    return exposed


def warn_about_unknown_options(conf: cfg.ConfigOpts) -> None:
    """One warning per option or section of ours that oslo.config ignores (a typo), with the
    nearest valid name."""
    from pmem_placement.conf import validate

    for message in validate.unknown_options(conf):
        LOG.warning("%s", message)


def warn_about_exposed_secrets(conf: cfg.ConfigOpts) -> list[str]:
    """Warn for each config file that holds a [placement] secret and that every user can read."""
    exposed = exposed_secrets(conf)
    for path in exposed:
        LOG.warning("%s holds [placement] credentials and every user can read it: chmod o-r it "
                    "(or move the secrets to a root-only file, see the systemd unit)", path)
    return exposed


def _cloud_adapter(name: str) -> ks_adapter.Adapter:
    # openstacksdk only for this path: it is slow to import and the agent never needs it.
    import openstack.config
    import openstack.exceptions

    service = placement_conf.SERVICE_TYPE
    try:
        cloud = openstack.config.OpenStackConfig().get_one(cloud=name)
        if not cloud.verify:
            LOG.warning("cloud %s has verify: false: Placement's TLS certificate is NOT verified", name)
            silence_insecure_request_warnings()
        return ks_adapter.Adapter(
            session=cloud.get_session(),
            service_type=service,
            interface=cloud.get_interface(service),
            region_name=cloud.get_region_name(service),
            endpoint_override=cloud.get_endpoint(service),
        )
    except (openstack.exceptions.ConfigException, ks_exc.ClientException) as exc:
        raise ConfigError(f"--os-cloud {name}: {exc} (see clouds.yaml, OS_CLIENT_CONFIG_FILE)") from exc


def state_dir(conf: cfg.ConfigOpts) -> str:
    """[agent]state_dir, which every run that writes to Placement needs."""
    if not conf.agent.state_dir:
        raise ConfigError(
            "[agent]state_dir is empty: pmem-placement needs it to write to Placement (its lock keeps "
            "the agent and a one-shot from writing at once, and it remembers which namespaces each "
            "class's consumers may hold); set it, e.g. /var/lib/pmem-placement")
    return str(conf.agent.state_dir)


def reconciler(conf: cfg.ConfigOpts, client: Client, lock_timeout: float | None = None,
               on_wait: typing.Callable[[], None] | None = None) -> Reconciler:
    policy = RetryPolicy(attempts=conf.pmem.conflict_retries + 1)
    return Reconciler(client, StateStore(state_dir(conf), lock_timeout, on_wait), policy,
                      verify_interval=conf.agent.verify_interval)


def silence_insecure_request_warnings() -> None:
    """urllib3 warns on every request without TLS verification; we warn once per run instead."""
    import warnings

    from urllib3 import exceptions as urllib3_exc

    warnings.filterwarnings("ignore", category=urllib3_exc.InsecureRequestWarning)

"""Read nova's ``[libvirt]pmem_namespaces`` from nova's configuration files, as nova does.

nova declares the option as ``cfg.ListOpt('pmem_namespaces', item_type=cfg.types.String(),
default=[])`` (``nova/conf/libvirt.py``); the same declaration on a private oslo.config
``ConfigOpts`` gives nova's exact reading: files in the order given, later ones overriding
earlier ones, then the ``*.conf`` files of each directory in name order (nova-compute's
``--config-file`` and ``--config-dir``), items split on ',' and stripped. Environment variables
are not consulted: ours are not nova-compute's. The only side effect is reading the files.

nova-compute started without ``--config-file`` reads the ``nova.conf`` and ``nova-compute.conf``
that oslo.config's default search finds, then the ``nova.conf.d`` and ``nova-compute.conf.d``
directories that exist (``oslo_config.cfg.find_config_files``/``find_config_dirs`` and
``ConfigOpts._parse_config_files``). The defaults of ``[pmem]nova_config`` and
``[pmem]nova_config_dir`` are those paths under ``/etc/nova``, and like oslo.config the audit
skips those that do not exist; a path the operator names must exist, as nova-compute's own
``--config-file`` must.
"""

import os

import typing

from oslo_config import cfg
from oslo_config import types

from pmem_placement.conf.pmem import NOVA_CONFIG_DIRS
from pmem_placement.conf.pmem import NOVA_CONFIG_FILES
from pmem_placement.errors import ConfigError

_OPTIONAL = frozenset((*NOVA_CONFIG_FILES, *NOVA_CONFIG_DIRS))


def read(files: typing.Sequence[str], dirs: typing.Sequence[str] = ()) -> list[str]:
    """The option's items; ConfigError naming the file when nova's configuration cannot be read."""
    named = [*files, *dirs]
    files = [p for p in files if p not in _OPTIONAL or os.path.exists(p)]
    dirs = [p for p in dirs if p not in _OPTIONAL or os.path.isdir(p)]
    if named and not files and not dirs:
        raise ConfigError(f"nova's configuration: none of {', '.join(named)} exists "
                          "(--nova-config, [pmem]nova_config, [pmem]nova_config_dir)")
    conf = cfg.ConfigOpts()
    conf.register_opts([cfg.ListOpt("pmem_namespaces", item_type=types.String(), default=[])], group="libvirt")
    args: list[str] = []
    for path in files:
        args += ["--config-file", path]
    for path in dirs:
        args += ["--config-dir", path]
    where = ", ".join([*files, *dirs]) or "(no nova configuration given)"
    try:
        conf(args, project="nova", default_config_files=[], default_config_dirs=[], use_env=False)
        return list(conf.libvirt.pmem_namespaces)
    except cfg.ConfigFilesNotFoundError as exc:
        raise ConfigError(f"nova's configuration: cannot read {', '.join(exc.config_files)} "
                          "(--nova-config, [pmem]nova_config)") from exc
    except cfg.ConfigFilesPermissionDeniedError as exc:
        raise ConfigError(f"nova's configuration: permission denied: {', '.join(exc.config_files)} "
                          "(run the audit as a user that can read nova's configuration)") from exc
    except cfg.ConfigDirNotFoundError as exc:
        raise ConfigError(f"nova's configuration: no directory {exc.config_dir} "
                          "(--nova-config-dir, [pmem]nova_config_dir)") from exc
    except cfg.Error as exc:
        raise ConfigError(f"nova's configuration ({where}): {exc}") from exc
    finally:
        conf.reset()

"""Read nova's ``[libvirt]pmem_namespaces`` from nova's configuration files, as nova does.

nova declares the option as ``cfg.ListOpt('pmem_namespaces', item_type=cfg.types.String(),
default=[])`` (``nova/conf/libvirt.py``); the same declaration on a private oslo.config
``ConfigOpts`` gives nova's exact reading: files in the order given, later ones overriding
earlier ones, then the ``*.conf`` files of each directory in name order (nova-compute's
``--config-file`` and ``--config-dir``), items split on ',' and stripped. Environment variables
are not consulted: ours are not nova-compute's. The only side effect is reading the files.
"""

import typing

from oslo_config import cfg
from oslo_config import types

from pmem_placement.errors import ConfigError


def read(files: typing.Sequence[str], dirs: typing.Sequence[str] = ()) -> list[str]:
    """The option's items; ConfigError naming the file when nova's configuration cannot be read."""
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
    except cfg.ConfigDirNotFoundError as exc:
        raise ConfigError(f"nova's configuration: no directory {exc.config_dir} (--nova-config-dir)") from exc
    except cfg.Error as exc:
        raise ConfigError(f"nova's configuration ({where}): {exc}") from exc
    finally:
        conf.reset()

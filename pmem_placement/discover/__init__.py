"""Discovery: which PMEM namespaces this host has.

Flow: a backend reads ndctl-shaped records (ndctl, sysfs, or a file) -> ``ndctl_json.parse``
turns them into ``Namespace`` values -> ``Namespace.problem`` says whether each is usable.
"""

from oslo_config import cfg

from pmem_placement.discover.model import Namespace


def discover(conf: cfg.ConfigOpts) -> list[Namespace]:
    """Discover this host's namespaces with the backend [pmem]discovery names."""
    # Imported here so that each backend's dependencies load only when it is used.
    if conf.pmem.discovery == "ndctl":
        from pmem_placement.discover import ndctl

        return ndctl.discover(conf.pmem.ndctl_path, conf.pmem.ndctl_timeout, conf.pmem.cxl_path, conf.pmem.sysfs_root)
    if conf.pmem.discovery == "sysfs":
        from pmem_placement.discover import sysfs

        return sysfs.discover(conf.pmem.sysfs_root, conf.pmem.cxl_path, conf.pmem.ndctl_timeout)
    from pmem_placement.discover import file

    return file.discover(conf.pmem.namespaces_file)

"""Discover namespaces with ndctl.

One call lists everything discovery needs: ``--idle`` includes disabled namespaces, ``--namespaces
--device-dax`` lists every mode (so a configured namespace that cannot be used is reported with
the reason why, rather than as missing), ``--buses --dimms --regions`` put each namespace in its
region, bus and DIMMs, ``--health --media-errors`` add the DIMMs' health and the namespaces' bad
blocks, ``--verbose`` the namespaces' NUMA node. With a CXL bus listed, ``cxl`` adds its memory
devices' health (``discover.cxl``).
"""

from pmem_placement.discover import command
from pmem_placement.discover import cxl
from pmem_placement.discover import ndctl_json
from pmem_placement.discover.model import Namespace

ARGV = ("list", "--buses", "--dimms", "--regions", "--namespaces", "--idle", "--device-dax", "--health",
        "--media-errors", "--verbose")


def discover(ndctl_path: str, timeout: float, cxl_path: str = "cxl", sysfs_root: str = "/sys",
             need_bus: bool = True) -> list[Namespace]:
    """The host's namespaces, with the health of the CXL devices under those on a CXL bus."""
    data = ndctl_json.decode(command.run(ndctl_path, timeout, ARGV), source="ndctl", need_bus=need_bus)
    cxl.annotate(data, cxl_path, timeout, sysfs_root)
    return ndctl_json.from_records(data, source="ndctl")

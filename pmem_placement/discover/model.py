"""The namespace record every discovery backend produces, the usability rule and health.

Pure: no I/O. The usability rule is DESIGN.md's: mode devdax, a non-empty name, not disabled, and
where the dax device is listed, a first device that is enabled and in devdax mode. Health is
separate (``Health``): whether the hardware under a usable namespace can keep what is written.
"""

import dataclasses

OK, UNHEALTHY, UNKNOWN = "ok", "unhealthy", "unknown"


@dataclasses.dataclass(frozen=True)
class Health:
    """Whether the hardware can keep what is written to a namespace.

    ``ok``: no signal says otherwise (``notes`` say which signals the device does not provide,
    and what is worth knowing: dirty shutdowns, a non-critical health state); ``unhealthy``:
    a signal says it cannot (``reasons``); ``unknown``: a signal could not be read, or an
    address range scrub is still looking for media errors (``reasons``).
    """

    state: str = OK
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        """``unhealthy: <reasons>``, ``health not known: <reasons>``, or ``ok``."""
        if self.state == UNHEALTHY:
            return "unhealthy: " + "; ".join(self.reasons)
        if self.state == UNKNOWN:
            return "health not known: " + "; ".join(self.reasons)
        return OK


@dataclasses.dataclass(frozen=True)
class Namespace:
    dev: str
    """Kernel device name, e.g. ``namespace0.1``."""
    mode: str
    """As ndctl reports it: devdax, fsdax, sector, raw, ..."""
    name: str | None = None
    size: int | None = None
    uuid: str | None = None
    numa_node: int | None = None
    """The NUMA node of the namespace (its dax device's), as sysfs and ``ndctl list -v`` say."""
    disabled: bool = False
    has_device_list: bool = False
    """Whether the output listed the dax devices at all (ndctl < v64 on newer kernels does not)."""
    chardev: str | None = None
    device_mode: str | None = None
    """Mode of the first dax device; None when not printed (ndctl < v66 means devdax)."""
    device_disabled: bool = False
    target_node: int | None = None
    """The NUMA node the memory itself joins (a new node for CXL memory), where printed."""
    align: int | None = None
    """The dax device's alignment in bytes, where printed (not to non-root ndctl)."""
    region: str | None = None
    bus_provider: str | None = None
    """Who provides the namespace's bus: ``ACPI.NFIT`` (NVDIMMs), ``CXL``, ``e820``, ..."""
    health: Health = Health()

    @property
    def problem(self) -> str | None:
        """Why this namespace cannot be handed to guests, or None when it is usable."""
        if self.disabled:
            return "it is disabled"
        if self.mode != "devdax":
            return f"its mode is {self.mode}, not devdax"
        if not self.name:
            return "it has no name"
        if self.has_device_list:
            if self.chardev is None:
                return "it has no dax device"
            if self.device_disabled:
                return f"its dax device {self.chardev} is disabled"
            if self.device_mode not in (None, "devdax"):
                return f"its dax device {self.chardev} is in {self.device_mode} mode, not devdax"
        return None

    @property
    def usable(self) -> bool:
        return self.problem is None

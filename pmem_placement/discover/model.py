"""The namespace record every discovery backend produces, and the usability rule.

Pure: no I/O. The rule is DESIGN.md's: mode devdax, a non-empty name, not disabled, and where
the dax device is listed, a first device that is enabled and in devdax mode.
"""

import dataclasses


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
    disabled: bool = False
    has_device_list: bool = False
    """Whether the output listed the dax devices at all (ndctl < v64 on newer kernels does not)."""
    chardev: str | None = None
    device_mode: str | None = None
    """Mode of the first dax device; None when not printed (ndctl < v66 means devdax)."""
    device_disabled: bool = False

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

"""The files installed beside the package: under ``<prefix>/share`` for a wheel (pyproject.toml's
data-files), or in the source checkout the package runs from (an editable install)."""

import pathlib
import sys

# Installed name (under <prefix>/share) -> its place in a source checkout.
FILES = {
    "pmem-placement/pmem-placement-agent.service": "systemd/pmem-placement-agent.service",
    "pmem-placement/pmem-placement.conf.sample": "etc/pmem-placement.conf.sample",
    "pmem-placement/pmem-placement.rules.yml": "etc/prometheus/pmem-placement.rules.yml",
    "pmem-placement/demo/ndctl-list.json": "etc/demo/ndctl-list.json",
    "man/man8/pmem-placement.8": "man/pmem-placement.8",
    "man/man8/pmem-placement-agent.8": "man/pmem-placement-agent.8",
}
CHECKOUT = pathlib.Path(__file__).resolve().parents[1]


def path(name: str) -> pathlib.Path:
    """Where ``name`` (a key of FILES) is; FileNotFoundError naming both places when nowhere."""
    places = [pathlib.Path(sys.prefix) / "share" / name, CHECKOUT / FILES[name]]
    for place in places:
        if place.is_file():
            return place
    raise FileNotFoundError(f"cannot find {name}: neither {places[0]} nor {places[1]} exists; install "
                            "pmem-placement with pip (from a wheel or its source tree)")

"""Write etc/pmem-placement.conf.sample with oslo-config-generator, in the order an operator reads
it: [DEFAULT]host, [pmem], [agent], [placement], then oslo.log's logging options ([DEFAULT] again:
oslo.config merges a section written twice). The generator itself sorts sections by name and puts
the logging options first.

    .venv/bin/python tools/sample_config.py          # rewrite it
    .venv/bin/python tools/sample_config.py --check  # exit 1 when it differs from the options

tests/unit/test_conf.py runs the check.
"""

import argparse
import io
import pathlib
import re
import sys

from oslo_config import cfg
from oslo_config import generator

HERE = pathlib.Path(__file__).resolve().parents[1]
SAMPLE = HERE / "etc" / "pmem-placement.conf.sample"
ORDER = ("DEFAULT", "pmem", "agent", "placement")
LOGGING = ("[DEFAULT]\n\n"
           "#\n# Logging (oslo.log). These are [DEFAULT] options too: set them in the [DEFAULT] section\n"
           "# above or here. The agent logs to the journal under systemd without any of them.\n#\n")


def generated(namespace: str) -> str:
    conf = cfg.ConfigOpts()
    generator.register_cli_opts(conf)
    conf(["--namespace", namespace, "--wrap-width", "79"])
    out = io.StringIO()
    generator.generate(conf, output_file=out)
    return out.getvalue()


def sections(text: str) -> dict[str, str]:
    parts = re.split(r"^\[([^\]]+)\]\n", text, flags=re.M)
    return {name: body for name, body in zip(parts[1::2], parts[2::2])}


def sample() -> str:
    ours = sections(generated("pmem_placement"))
    if set(ours) != set(ORDER):
        raise SystemExit(f"sections {sorted(ours)}, expected {sorted(ORDER)}: update tools/sample_config.py")
    text = "".join(f"[{name}]\n{ours[name].rstrip()}\n\n\n" for name in ORDER)
    logging = sections(generated("oslo.log"))
    return text + LOGGING + logging["DEFAULT"].lstrip("\n").rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare, write nothing; exit 1 on a difference")
    args = parser.parse_args()
    text = sample()
    if args.check:
        if SAMPLE.read_text() != text:
            print(f"{SAMPLE} is out of date: run .venv/bin/python tools/sample_config.py", file=sys.stderr)
            return 1
        return 0
    SAMPLE.write_text(text)
    print(f"wrote {SAMPLE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

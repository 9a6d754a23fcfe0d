"""`pip install` puts the sample configuration and the systemd unit where the README says."""

import pathlib
import subprocess
import sys
import zipfile

ROOT = pathlib.Path(__file__).parents[2]


def test_the_wheel_installs_the_sample_config_and_the_unit(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--disable-pip-version-check",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True, timeout=300)
    [wheel] = tmp_path.glob("pmem_placement-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    data = "pmem_placement-0.1.0.data/data/share/pmem-placement/"
    assert data + "pmem-placement.conf.sample" in names
    assert data + "pmem-placement-agent.service" in names
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read(data + "pmem-placement.conf.sample") == (ROOT / "etc/pmem-placement.conf.sample").read_bytes()

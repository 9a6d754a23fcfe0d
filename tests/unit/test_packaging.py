"""The install path of the README, verbatim but under a temporary root: a wheel into a virtualenv
as /opt/pmem-placement would be, then `<venv>/bin/pmem-placement install-unit`. The unit it writes
runs that venv's agent and passes `systemd-analyze verify` (where systemd-analyze is installed, as
on Debian 12 and in CI), the man pages are where `man` finds them, the sample is installed, and
nothing of the operator's is replaced."""

import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import pytest

ROOT = pathlib.Path(__file__).parents[2]
VERSION = "0.2.0"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--disable-pip-version-check", "-w", str(out), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    [built] = out.glob("pmem_placement-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory):
    """python3 -m venv /opt/pmem-placement; /opt/pmem-placement/bin/pip install pmem-placement: the
    dependencies come from this test environment (a .pth), not from an index."""
    opt = tmp_path_factory.mktemp("opt") / "pmem-placement"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(opt)], check=True, timeout=120)
    python = opt / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             check=True, capture_output=True, text=True).stdout.strip()
    (pathlib.Path(purelib) / "test-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-index", "--disable-pip-version-check", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    return opt


def install_unit(venv, root, *args):
    return subprocess.run([str(venv / "bin" / "pmem-placement"), "install-unit", "--root", str(root), *args],
                          capture_output=True, text=True, timeout=120, cwd="/")


def test_the_wheel_carries_the_unit_the_sample_the_rules_the_man_pages_and_the_license(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    data = f"pmem_placement-{VERSION}.data/data/share/"
    for name in ("pmem-placement/pmem-placement.conf.sample", "pmem-placement/pmem-placement-agent.service",
                 "pmem-placement/pmem-placement.rules.yml", "pmem-placement/LICENSE",
                 "man/man8/pmem-placement.8", "man/man8/pmem-placement-agent.8"):
        assert data + name in names
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read(data + "pmem-placement/pmem-placement.conf.sample") == \
            (ROOT / "etc/pmem-placement.conf.sample").read_bytes()


def test_install_unit_from_a_venv_writes_a_unit_systemd_accepts_and_man_pages_man_finds(venv, tmp_path):
    root = tmp_path / "root"
    result = install_unit(venv, root)
    assert result.returncode == 0, result.stderr
    unit = (root / "etc/systemd/system/pmem-placement-agent.service").read_text()
    [start] = [line for line in unit.splitlines() if line.startswith("ExecStart=")]
    assert start.startswith(f"ExecStart={venv}/bin/pmem-placement-agent --config-file ")
    assert "Documentation=man:pmem-placement-agent(8) man:pmem-placement(8)" in unit
    man8 = root / "usr/local/share/man/man8"
    for page in ("pmem-placement.8", "pmem-placement-agent.8"):
        assert (man8 / page).resolve() == (venv / "share/man/man8" / page).resolve()
    for command in ("pmem-placement", "pmem-placement-agent"):
        assert (root / "usr/local/bin" / command).resolve() == (venv / "bin" / command).resolve()
    assert (root / "etc/pmem-placement/pmem-placement.conf.sample").read_text() == \
        (ROOT / "etc/pmem-placement.conf.sample").read_text()
    shown = subprocess.run(["man", "-M", str(root / "usr/local/share/man"), "8", "pmem-placement"],
                           capture_output=True, text=True, env={**os.environ, "MANWIDTH": "100", "MANPAGER": "cat"})
    assert shown.returncode == 0 and "install-unit" in shown.stdout and "reserved_namespaces" in shown.stdout
    if shutil.which("systemd-analyze"):  # Debian 12, CI
        verified = subprocess.run(["systemd-analyze", "verify", str(root / "etc/systemd/system/pmem-placement-agent.service")],
                                  capture_output=True, text=True,
                                  env={**os.environ, "MANPATH": str(root / "usr/local/share/man")})
        assert (verified.returncode, verified.stdout + verified.stderr) == (0, "")
    version = subprocess.run([str(root / "usr/local/bin/pmem-placement"), "--version"], capture_output=True, text=True)
    assert version.stdout.strip() == VERSION


def test_install_unit_again_changes_nothing_and_never_replaces_what_is_not_its_own(venv, tmp_path):
    root = tmp_path / "root"
    assert install_unit(venv, root).returncode == 0
    config = root / "etc/pmem-placement/pmem-placement.conf"
    config.write_text("[DEFAULT]\nhost = compute-1\n")
    theirs = root / "usr/local/bin/pmem-placement-agent"
    theirs.unlink()
    theirs.write_text("#!/bin/sh\n")  # a command of the same name, not a link of ours
    again = install_unit(venv, root)
    assert again.returncode == 0
    assert "left as it is" in again.stderr and theirs.read_text() == "#!/bin/sh\n"
    assert config.read_text() == "[DEFAULT]\nhost = compute-1\n"
    assert again.stdout.count("(unchanged)") == 5
    dry = install_unit(venv, tmp_path / "empty", "--dry-run")
    assert dry.returncode == 0 and "would install" in dry.stdout and not (tmp_path / "empty").exists()


def test_install_unit_refuses_an_environment_without_the_agent(tmp_path):
    # An interpreter whose scripts directory has no pmem-placement-agent (pip did not install it there).
    opt = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(opt)], check=True, timeout=120)
    purelib = subprocess.run([str(opt / "bin/python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             check=True, capture_output=True, text=True).stdout.strip()
    (pathlib.Path(purelib) / "deps.pth").write_text("\n".join([str(ROOT), sysconfig.get_path("purelib")]) + "\n")
    result = subprocess.run([str(opt / "bin/python"), "-m", "pmem_placement.cmd.cli", "install-unit", "--root",
                             str(tmp_path / "root")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert f"{opt}/bin/pmem-placement-agent is not there" in result.stderr
    assert not (tmp_path / "root").exists()



def test_a_unit_install_unit_did_not_write_is_kept_unless_forced_and_an_exec_start_drop_in_is_named(venv, tmp_path):
    """Guards (found by review): a hand-edited unit (its ReadWritePaths= for node_exporter) was
    overwritten, and 0.1.0's ExecStart= drop-in kept the old agent running without a word."""
    root = tmp_path / "root"
    unit = root / "etc/systemd/system/pmem-placement-agent.service"
    unit.parent.mkdir(parents=True)
    theirs = (ROOT / "systemd/pmem-placement-agent.service").read_text().replace(
        "[Service]\n", "[Service]\nReadWritePaths=/var/lib/node_exporter/textfile_collector\n")
    unit.write_text(theirs)
    dropin = unit.parent / "pmem-placement-agent.service.d/override.conf"
    dropin.parent.mkdir()
    dropin.write_text("[Service]\nExecStart=\nExecStart=/opt/old/bin/pmem-placement-agent\n")
    kept = install_unit(venv, root)
    assert kept.returncode == 0 and unit.read_text() == theirs
    assert f"{unit} was not written by install-unit: left as it is" in kept.stderr
    assert f"{dropin} sets ExecStart=, which replaces this environment's" in kept.stderr
    forced = install_unit(venv, root, "--force")
    assert forced.returncode == 0 and unit.read_text().startswith("# Written by 'pmem-placement install-unit'")
    assert install_unit(venv, root).stdout.count("(unchanged)") == 6  # its own, from now on


def test_install_unit_that_cannot_write_says_so_in_one_line(venv, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    result = install_unit(venv, blocker)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("pmem-placement: error: cannot install ")
    assert "Traceback" not in result.stderr


def test_the_readme_installs_as_these_tests_do():
    readme = (ROOT / "README.md").read_text()
    for command in ("# python3 -m venv /opt/pmem-placement", "# /opt/pmem-placement/bin/pip install pmem-placement",
                    "# /opt/pmem-placement/bin/pmem-placement install-unit"):
        assert command in readme

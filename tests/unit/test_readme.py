"""The README and docs/ are executable truth: every ``ini`` block parses with oslo.config and means
what it says, every relative link leads somewhere, and the README stays short, with the decision first."""

import pathlib
import re

import pytest
from oslo_config import cfg

from pmem_placement import conf as conf_mod
from pmem_placement import mapping
from pmem_placement.conf import validate

ROOT = pathlib.Path(__file__).parents[2]
README_PATH = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README_PATH, *DOCS]
README = README_PATH.read_text()


def ini_blocks(text):
    return re.findall(r"^```ini\n(.*?)^```", text, re.S | re.M)


BLOCKS = ini_blocks(README)
ALL_BLOCKS = [pytest.param(block, id=f"{page.relative_to(ROOT)}-{i}")
              for page in PAGES for i, block in enumerate(ini_blocks(page.read_text()))]


def parse(tmp_path, *texts):
    files = []
    for i, text in enumerate(texts):
        path = tmp_path / f"{i}.conf"
        path.write_text(text)
        files += ["--config-file", str(path)]
    conf = cfg.ConfigOpts()
    conf_mod.register_opts(conf)
    conf(files, default_config_files=[])
    return conf


def test_the_readme_has_the_configuration_blocks():
    assert len(BLOCKS) >= 2


def test_the_docs_have_the_full_configuration_blocks():
    assert len(ini_blocks((ROOT / "docs" / "configuration.md").read_text())) >= 2


@pytest.mark.parametrize("block", ALL_BLOCKS)
def test_every_ini_block_parses_and_every_option_is_known(tmp_path, block):
    conf = parse(tmp_path, block)
    assert validate.unknown_options(conf) == []
    for line in block.splitlines():
        if "=" in line and not line.startswith("#"):
            assert "#" not in line, f"an end-of-line comment becomes part of the value: {line!r}"


@pytest.mark.parametrize("page", ["README.md", "docs/configuration.md"])
def test_the_blocks_mean_what_the_prose_says(tmp_path, page):
    blocks = BLOCKS if page == "README.md" else ini_blocks((ROOT / page).read_text())
    main, secrets = blocks[0], blocks[1]
    conf = parse(tmp_path, main, secrets)
    assert conf.host == "compute-1"
    labels = mapping.parse(conf.pmem.namespaces)
    assert [(label.resource_class, label.namespace_names) for label in labels] == [
        ("CUSTOM_PMEM_NAMESPACE_4GB", ("ns_0",)), ("CUSTOM_PMEM_NAMESPACE_SMALL", ("ns_1", "ns_2"))]
    assert conf.pmem.discovery == "ndctl"
    # The commented-out lines show the defaults.
    assert (conf.pmem.ndctl_path, conf.pmem.ndctl_timeout, conf.pmem.conflict_retries) == ("ndctl", 30, 4)
    assert (conf.agent.interval, conf.agent.initial_jitter, conf.agent.max_backoff) == (300, 30, 600)
    assert conf.agent.state_dir == "/var/lib/pmem-placement"
    assert conf.placement.auth_type == "password"
    assert conf.placement.valid_interfaces == ["internal"]
    # The main file alone has no [placement]: the split the systemd unit uses.
    assert "[placement]" not in main and "[placement]" in secrets


# Links: [text](target), not inside code. Images too (![alt](target)).
LINK = re.compile(r"\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.S | re.M)
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)


def prose(text):
    """The text without fenced code blocks and inline code, where brackets are not links."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def slug(heading):
    """GitHub's anchor for a heading: its text as rendered (no code ticks, links as their text),
    lowercased, without punctuation but hyphens (and letters, digits, underscores), spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text)
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(text):
    """Every heading's anchor, duplicates numbered as GitHub numbers them (-1, -2, ...)."""
    seen: dict[str, int] = {}
    result = set()
    for match in re.finditer(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", FENCE.sub("", text), re.M):
        base = slug(match.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        result.add(base if n == 0 else f"{base}-{n}")
    return result


def links(page):
    return LINK.findall(prose(page.read_text()))


@pytest.mark.parametrize("heading, anchor", [
    ("Exit statuses of `reconcile`", "exit-statuses-of-reconcile"),
    ("Exit statuses of `show`, `check`, `remove`", "exit-statuses-of-show-check-remove"),
    ("Audit: nova's vPMEM checked against the host", "audit-novas-vpmem-checked-against-the-host"),
    ("End-to-end suite: a real kernel, real ndctl, real sysfs",
     "end-to-end-suite-a-real-kernel-real-ndctl-real-sysfs"),
    ("A first compute node, from install to `check`", "a-first-compute-node-from-install-to-check"),
    ("pmem-placement and nova", "pmem-placement-and-nova"),
])
def test_slug_is_githubs(heading, anchor):
    assert slug(heading) == anchor


def test_duplicate_headings_are_numbered():
    assert anchors("# A\n\n## A\n\n```\n# A\n```\n## A\n") == {"a", "a-1", "a-2"}


def test_links_in_code_are_not_links():
    assert LINK.findall(prose("[a](x.md) `[b](y.md)`\n```\n[c](z.md)\n```\n[d](w.md#e \"t\")\n")) == [
        "x.md", "w.md#e"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_dead_relative_link(page):
    dead = []
    for target in links(page):
        if re.match(r"(?i)(https?:|mailto:)", target):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            dead.append(f"{target}: no {file.relative_to(ROOT) if file.is_relative_to(ROOT) else file}")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file.read_text()):
            dead.append(f"{target}: no heading #{anchor} in {file.relative_to(ROOT)}")
    assert not dead, f"dead links in {page.relative_to(ROOT)}:\n" + "\n".join(dead)


def test_the_readme_is_short_and_decides_report_or_audit_first():
    lines = README.splitlines()
    assert len(lines) <= 250
    first_screen = "\n".join(lines[:40])
    for fact in ("[pmem]mode", "`audit`", "`report`", "[libvirt]pmem_namespaces", "no nvdimm device"):
        assert fact in first_screen, fact


def test_every_docs_page_has_a_title_and_says_what_it_holds_and_the_readme_links_it():
    for page in DOCS:
        head = page.read_text().split("\n", 3)
        assert head[0].startswith("# ") and head[1] == "" and head[2], page.name
        assert f"(docs/{page.name})" in README, f"the README does not link docs/{page.name}"

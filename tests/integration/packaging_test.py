"""The Debian package as `cpack -G DEB` builds it from this build directory: lintian reports no
tag beyond the justified ones of packaging/lintian-allowed-tags; the package carries the docs,
the copyright file, the changelog and the manual page; weir(1), written at build time from the
command line's definitions, renders without warnings and names every verb of `weir --help`."""
import gzip
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from weir_test_util import WEIR, source, weir

BUILD_DIR = os.path.dirname(os.path.dirname(WEIR))  # .../build/PRESET/daemon/weir


def run(*args, timeout, cwd=None):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, cwd=cwd)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p.stdout


def allowed_tags():
    """Tag names of packaging/lintian-allowed-tags (one per line; # starts a comment)."""
    tags = set()
    with open(source("packaging", "lintian-allowed-tags")) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                tags.add(line)
    return tags


def address_sanitized():
    """Whether this build directory is an AddressSanitizer build (the test command's)."""
    with open(os.path.join(BUILD_DIR, "CMakeCache.txt")) as f:
        for line in f:
            if line.startswith("WEIR_SANITIZE:"):
                return "address" in line.split("=", 1)[1]
    return False


class packaging_test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="weir-packaging-")
        # cpack builds `all` first (a no-op after the test command's full build), which writes
        # the man page and the changelog (target weir_package_docs).
        run("cpack", "-G", "DEB", "--config", os.path.join(BUILD_DIR, "CPackConfig.cmake"),
            "-B", cls.tmp, timeout=300, cwd=BUILD_DIR)
        debs = [f for f in os.listdir(cls.tmp) if f.endswith(".deb")]
        assert len(debs) == 1, f"cpack made {debs}"
        cls.deb = os.path.join(cls.tmp, debs[0])
        cls.root = os.path.join(cls.tmp, "root")
        run("dpkg-deb", "-x", cls.deb, cls.root, timeout=60)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def test_lintian_reports_only_the_justified_tags(self):
        if shutil.which("lintian") is None:
            self.fail("lintian is not installed (scripts/setup-deps --test installs it)")
        # Errors, warnings and informational tags; pedantic and experimental ones are not asked.
        p = subprocess.run(["lintian", "--display-info", "--tag-display-limit", "0",
                            "--fail-on", "none", self.deb],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr)
        found = {}
        for line in p.stdout.splitlines():
            m = re.match(r"^([EWI]): weir[^:]*: (\S+)", line)
            if m:
                found.setdefault(m.group(2), []).append(line)
        allowed = allowed_tags()
        # An AddressSanitizer build links weir without PIE, for its start-up time
        # (cmake/weir_options.cmake); any other build's package must be PIE.
        if address_sanitized():
            allowed.add("hardening-no-pie")
        unexpected = {t: lines for t, lines in found.items() if t not in allowed}
        self.assertEqual(unexpected, {},
                         "lintian tags not in packaging/lintian-allowed-tags (fix them, or add "
                         "them there with a justification in packaging/README.md):\n"
                         + p.stdout)
        # Every allowed tag is justified where operators read.
        with open(source("packaging", "README.md")) as f:
            readme = f.read()
        for tag in allowed | {"hardening-no-pie"}:
            self.assertIn(f"`{tag}`", readme, f"{tag} has no justification in packaging/README.md")

    def test_package_fields(self):
        fields = run("dpkg-deb", "-f", self.deb, "Package", "Version", "Maintainer",
                     timeout=60)
        self.assertIn("Package: weir\n", fields)
        self.assertNotIn("localhost", fields)
        version = re.search(r"^Version: (\S+)$", fields, re.M).group(1)
        # The newest changelog entry is this version.
        with gzip.open(self.path("usr/share/doc/weir/changelog.Debian.gz"), "rt") as f:
            first = f.readline()
        self.assertEqual(first.split()[:2], ["weir", f"({version})"])

    def test_docs_copyright_changelog_and_man_page_are_installed(self):
        doc = "usr/share/doc/weir"
        for rel in ["README.md", "README.systemd.md", "README.packaging.md", "docs/pipelines.md",
                    "docs/README.md", "examples/README.md", "examples/quickstart.yaml",
                    "examples/tests/quickstart_test.yaml", "copyright", "changelog.Debian.gz"]:
            self.assertTrue(os.path.isfile(self.path(doc, rel)), rel)
        self.assertTrue(os.path.isfile(self.path("usr/share/man/man1/weir.1.gz")))
        # README's links resolve inside the package.
        with open(self.path(doc, "README.md")) as f:
            for target in re.findall(r"\]\(([^)#:]+)\)", f.read()):
                if target.startswith(("docs/", "examples/")):
                    self.assertTrue(os.path.exists(self.path(doc, target)), target)
        with open(self.path(doc, "copyright")) as f:
            self.assertTrue(f.readline().startswith(
                "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"))
        # gzip -9n: no file name and no time stamp in the header (reproducible builds).
        for rel in [os.path.join(doc, "changelog.Debian.gz"), "usr/share/man/man1/weir.1.gz"]:
            with open(self.path(rel), "rb") as f:
                header = f.read(10)
            self.assertEqual(header[:2], b"\x1f\x8b", rel)
            self.assertEqual(header[3] & 0x08, 0, f"{rel} stores a file name")
            self.assertEqual(header[4:8], b"\0\0\0\0", f"{rel} stores a time stamp")

    def test_man_page_renders_and_names_every_verb(self):
        page = self.path("usr/share/man/man1/weir.1.gz")
        env = dict(os.environ, MANWIDTH="100", LC_ALL="C.UTF-8")
        p = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", page], capture_output=True,
                           text=True, timeout=60, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "", "groff warnings")
        text = re.sub(r".\x08", "", p.stdout)  # overstrike bold/underline, if any
        for heading in ["NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "ENVIRONMENT",
                        "EXIT STATUS", "FILES"]:
            self.assertRegex(text, rf"(?m)^{heading}$")
        # Every verb of --help is on the page, with its own options (from the same CLI11 app).
        rc, help_text, _ = weir("--help")
        self.assertEqual(rc, 0)
        verbs = re.findall(r"(?m)^  (\w+)\s{2,}\S", help_text.split("Subcommands:", 1)[1])
        self.assertIn("run", verbs)
        for verb in verbs:
            self.assertIn(f"weir {verb}", text)
        rc, run_help, _ = weir("run", "--help")
        for option in re.findall(r"(?m)^\s+(--[a-z-]+)", run_help):
            if option != "--help":
                self.assertIn(option, text)
        self.assertIn("WEIR_DATA_DIR", text)
        self.assertIn("weir checkpoint inspect", text)
        # The page in the build directory is the one packaged.
        with open(os.path.join(BUILD_DIR, "packaging", "weir.1")) as f:
            built = f.read()
        with gzip.open(page, "rt") as f:
            self.assertEqual(f.read(), built)
        rc, generated, _ = weir("--generate-man")
        self.assertEqual((rc, generated), (0, built))


if __name__ == "__main__":
    unittest.main()

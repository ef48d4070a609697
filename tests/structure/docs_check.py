#!/usr/bin/python3
"""Checks the documents owed to requesters and auditors against the repository.

    docs_check.py deviations ROOT   (ctest docs_deviations)
    docs_check.py links ROOT        (ctest docs_links)

deviations: docs/DEVIATIONS.md against the code:
- every result code of the operator's technical document (the seed's "Result code" list, or the
  list below when the seeds are not beside the repository) has exactly one row;
- a code marked "emitted" appears in a non-test source of the services, with its colon (as the
  start of a problem detail) or as a policy decision; a code marked "n.a." gives its reason;
- every test the document names exists.

links: docs/DEVIATIONS.md, docs/CONFORMANCE.md and docs/REQUESTER_GUIDE.md (CHECKED_DOCS):
- every backticked test name exists: GoogleTest `Suite.Name` (TEST, TEST_F, TEST_P) or `Suite.*`,
  a Python `test_name` or `Class.test_name` under tests/, a ctest name (`add_test(NAME x)`) or a
  GoogleTest binary (`ca_test(x ...)`, whose cases ctest runs); in the tests column of a table
  every backticked item must be one of these (or an existing file);
- every backticked repository path (first component a top-level entry of the repository; globs
  allowed) exists, and a bare source file name (`foo.cpp`) exists somewhere in the repository;
- every relative Markdown link resolves, with its #anchor when it points into a Markdown file;
- docs/CONFORMANCE.md has one row per ANSSI recommendation R1..R54, in order, status yes, partial
  or n.a.; a "yes" row names a test, a "partial" or "n.a." row says why;
- docs/REQUESTER_GUIDE.md has its sections (R24, R42, R48) and every command line of its fenced
  ```sh blocks names a program this project builds (a CMake `add_executable`), installs (the
  package's scripts) or installs as a dependency (scripts/install-deps.sh), a shell built-in or a
  Debian essential tool, or a script of the repository; `ca-ra` / `acme-ca-ra` subcommands and
  options are checked against the CLI's usage text (appliance/ra/main.cpp).
Also every relative link of README.md, docs/*.md and the folders' README.md files resolves.
Prints one line per defect and exits 1 when there is any.
"""
import pathlib
import re
import shlex
import os
import sys

CTD_CODES = """DEACTIVATED_ACCOUNT DEACTIVATED_EXTERNAL_ACCOUNT DOMAIN_NOT_ASSOCIATED DOMAIN_NOT_FOUND
EXPIRED_ACCOUNT EXPIRED_EXTERNAL_ACCOUNT EXTERNAL_ACCOUNT_NOT_FOUND INVALID_DNSCAA INVALID_DOMAIN
INVALID_DOMAIN_FOR_WILDCARD_PROFILE INVALID_PROFILE_FOR_WILDCARD NO_DOCUMENT_FORM_FOUND
NO_VALID_ORGANIZATION_DOCUMENT_FOUND NOT_SAME_ORGANIZATION ORGANIZATION_IS_NOT_VALID OUT_OF_CREDIT
PENDING_EXTERNAL_ACCOUNT RATE_LIMITED REVOKED_ACCOUNT REVOKED_EXTERNAL_ACCOUNT SUSPENDED_ACCOUNT
SUSPENDED_EXTERNAL_ACCOUNT UNAUTHORIZED_DOMAIN ACME_ORDER_NOT_READ ACME_REQUEST_NOT_FOUND
ACME_ORDER_FINALIZE_ERROR ACME_CA_ERROR ACME_OTHER_ERROR ACME_DEACTIVATED BAD_SIGNATURE""".split()

SERVICE_DIRS = ["gateway", "engine", "profiles"]
VERBOSE = os.environ.get("DOCS_CHECK_VERBOSE") == "1"  # print each requester command as parsed
CHECKED_DOCS = ["docs/DEVIATIONS.md", "docs/CONFORMANCE.md", "docs/REQUESTER_GUIDE.md"]
REQUESTER_SECTIONS = ["R48", "R24", "R42"]  # each must appear in a heading of the requester guide

# Programs whose Debian package has another name (the package must be in scripts/install-deps.sh).
PROGRAM_PACKAGE = {"dig": "dnsutils", "nsupdate": "dnsutils", "python3": "python3-acme",
                   "systemctl": "systemd", "journalctl": "systemd", "pkcs11-tool": "opensc",
                   "softhsm2-util": "softhsm2", "pebble-challtestsrv": "pebble",
                   "mdb_stat": "lmdb-utils", "mdb_copy": "lmdb-utils"}
# Shell built-ins and tools of Debian's essential set (always there).
ESSENTIAL = set("""cd export set unset read echo printf test [ umask source . true false exit
cat cp mv rm mkdir rmdir chmod chown chgrp install ls ln tr cut head tail sort uniq grep sed awk
date id tee base64 sha256sum mktemp touch find xargs kill sleep hostname stat wc diff env
basename dirname realpath useradd runuser setpriv""".split())
PREFIXES = {"sudo", "env", "exec", "time", "nice", "!", "command"}
FILE_EXTENSIONS = {"md", "cpp", "h", "py", "sh", "json", "txt", "conf", "service", "timer", "pem",
                   "der", "crl", "key", "csr", "crt", "env", "jsonl", "log", "png", "html", "csv"}
SOURCE_EXTENSIONS = {".cpp", ".h", ".py", ".sh"}


# ---------------------------------------------------------------- what the repository holds

def repo_files(root):
    """Every file and folder of the repository but build trees and hidden entries."""
    out = []
    for here, dirs, files in os.walk(root):
        top = pathlib.Path(here) == root
        dirs[:] = [d for d in dirs if not d.startswith(".") and not (top and d.startswith("build"))]
        out += [pathlib.Path(here) / n for n in dirs + files]
    return out


class Repo:
    def __init__(self, root):
        self.root = root
        self.files = repo_files(root)
        self.basenames = {p.name for p in self.files}
        self.gtests, self.suites = set(), set()
        pattern = re.compile(r"^TEST(?:_F|_P)?\((\w+),\s*(\w+)\)", re.M)
        for p in self.files:
            if p.name.endswith("_test.cpp"):
                for suite, name in pattern.findall(p.read_text(errors="replace")):
                    self.gtests.add(f"{suite}.{name}")
                    self.suites.add(suite)
        self.pytests = set()
        for p in (root / "tests").rglob("*.py"):
            cls = None
            for line in p.read_text(errors="replace").splitlines():
                if m := re.match(r"class (\w+)", line):
                    cls = m.group(1)
                if m := re.match(r"\s+def (test_\w+)", line):
                    self.pytests.add(m.group(1))
                    if cls:
                        self.pytests.add(f"{cls}.{m.group(1)}")
        self.ctests, self.programs = set(), set(ESSENTIAL)
        for p in self.files:
            if p.name != "CMakeLists.txt":
                continue
            text = p.read_text(errors="replace")
            self.ctests.update(re.findall(r"add_test\(NAME\s+([\w-]+)", text))
            self.ctests.update(n for n in re.findall(r"^\s*ca_test\((\w+)", text, re.M) if n != "name")
            self.programs.update(re.findall(r"add_executable\((ca-[\w-]+)", text))
            for block in re.findall(r"install\(PROGRAMS([^)]*)\)", text):
                self.programs.update(pathlib.Path(w).name for w in block.split()
                                     if "/" in w and not w.startswith("DESTINATION"))
        deps = (root / "scripts" / "install-deps.sh").read_text()
        packages = set(re.findall(r"[a-z0-9][a-z0-9.+-]+", re.search(r"PKGS=\((.*?)\)", deps, re.S).group(1)))
        self.programs.update(packages)
        self.programs.update(prog for prog, pkg in PROGRAM_PACKAGE.items() if pkg in packages)
        self.top = {p.name for p in root.iterdir() if not p.name.startswith(".")}

    def is_test(self, token):
        if re.fullmatch(r"[A-Z]\w*\.\*", token):
            return token[:-2] in self.suites
        return token in self.gtests or token in self.pytests or token in self.ctests

    def path_exists(self, token):
        token = token.rstrip("/")
        if any(c in token for c in "*?["):
            return any(True for _ in self.root.glob(token))
        return (self.root / token).exists()


def looks_like_test(token):
    if re.fullmatch(r"[A-Z]\w*\.(\*|[A-Za-z_]\w*)", token):
        return token.rsplit(".", 1)[1] not in FILE_EXTENSIONS
    return bool(re.fullmatch(r"test_\w+|[a-z0-9]+(_[a-z0-9]+)*_(e2e|test)|docs_\w+|structure_\w+", token))


def looks_like_path(repo, token):
    if " " in token or token.startswith(("/", "../", "$", "-")):
        return False
    first = token.split("/")[0]
    return "/" in token and first in repo.top and first != "build"


# ---------------------------------------------------------------- Markdown

def strip_fenced(text):
    """The text with fenced code blocks blanked (line numbers kept)."""
    out, fence = [], None
    for line in text.splitlines():
        m = re.match(r"\s*(```+|~~~+)", line)
        if fence is None and m:
            fence = m.group(1)
            out.append("")
        elif fence is not None and line.strip().startswith(fence):
            fence = None
            out.append("")
        else:
            out.append("" if fence else line)
    return out


def fenced_blocks(text, langs=("sh", "bash", "shell")):
    """(first line number, lines) of each fenced block whose info string is in langs."""
    blocks, fence, lang, start, body = [], None, "", 0, []
    for n, line in enumerate(text.splitlines(), 1):
        m = re.match(r"\s*(```+|~~~+)\s*(\w*)", line)
        if fence is None and m:
            fence, lang, start, body = m.group(1), m.group(2), n + 1, []
        elif fence is not None and line.strip().startswith(fence):
            if lang in langs:
                blocks.append((start, body))
            fence = None
        elif fence is not None:
            body.append(line)
    return blocks


def slug(heading):
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def anchors(path):
    found = set()
    for line in strip_fenced(path.read_text(errors="replace")):
        if m := re.match(r"#{1,6}\s+(.*)", line):
            found.add(slug(m.group(1)))
    return found


def check_links(repo, doc, defects):
    lines = strip_fenced(doc.read_text(errors="replace"))
    rel = doc.relative_to(repo.root)
    for n, line in enumerate(lines, 1):
        for target in re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", re.sub(r"`[^`]*`", "", line)):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            dest = doc if path == "" else (doc.parent / path)
            if not dest.exists():
                defects.append(f"{rel}:{n}: link to {target}: no such file")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                defects.append(f"{rel}:{n}: link to {target}: no heading with that anchor")


def table_rows(lines):
    for n, line in enumerate(lines, 1):
        if line.startswith("|") and not re.match(r"\|\s*-", line):
            yield n, [c.strip() for c in line.strip().strip("|").split("|")]


def check_names(repo, doc, defects):
    lines = strip_fenced(doc.read_text(errors="replace"))
    rel = doc.relative_to(repo.root)
    header = None
    for n, line in enumerate(lines, 1):
        cells = None
        if line.startswith("|") and not re.match(r"\|\s*-", line):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if header is None or len(cells) != len(header):
                header = cells
                cells = None
        elif not line.startswith("|"):
            header = None
        strict = set()  # the items of a tests column (not what the parentheses say about them)
        if cells and header and header[-1].lower().startswith("test"):
            strict = set(re.findall(r"`([^`]+)`", re.sub(r"\([^()]*\)", "", cells[-1])))
        for token in re.findall(r"`([^`]+)`", line):
            in_tests = token in strict
            if looks_like_test(token) or (in_tests and not ("/" in token or "." in token[-5:])):
                if not repo.is_test(token):
                    defects.append(f"{rel}:{n}: names a test that does not exist: {token}")
            elif looks_like_path(repo, token):
                if not repo.path_exists(token):
                    defects.append(f"{rel}:{n}: names a path that does not exist: {token}")
            elif re.fullmatch(r"[\w.-]+", token) and pathlib.PurePath(token).suffix in SOURCE_EXTENSIONS:
                if token not in repo.basenames:
                    defects.append(f"{rel}:{n}: names a file that does not exist: {token}")
            elif in_tests:
                defects.append(f"{rel}:{n}: {token} in a tests column is neither a test nor a file")


# ---------------------------------------------------------------- the conformance matrix

def check_matrix(repo, defects):
    doc = repo.root / "docs" / "CONFORMANCE.md"
    seen = []
    for n, cells in table_rows(strip_fenced(doc.read_text())):
        m = re.match(r"R(\d+)\b", cells[0])
        if not m or len(cells) != 4:
            continue
        r, status, what, tests = int(m.group(1)), cells[1], cells[2], cells[3]
        if r > 54:
            continue
        seen.append(r)
        where = f"docs/CONFORMANCE.md:{n}: R{r}"
        if status not in ("yes", "partial", "n.a."):
            defects.append(f"{where}: status is '{status}', not yes, partial or n.a.")
        if status == "yes" and not any(repo.is_test(t) for t in re.findall(r"`([^`]+)`", tests)):
            defects.append(f"{where}: yes without a test that exists")
        if status in ("partial", "n.a.") and not re.search(r"(missing|not |n\.a\.|because|no )", what, re.I):
            defects.append(f"{where}: {status} without saying what is missing or why")
    if seen != list(range(1, 55)):
        missing = sorted(set(range(1, 55)) - set(seen))
        defects.append(f"docs/CONFORMANCE.md: the R1-R54 rows are not one per recommendation in order"
                       f" (missing {missing}, order {seen})")
    return seen


# ---------------------------------------------------------------- commands

def ra_usage(repo):
    text = (repo.root / "appliance" / "ra" / "main.cpp").read_text()
    return re.search(r'kUsage = R"\((.*?)\)";', text, re.S).group(1)


def simple_commands(line):
    """The simple commands of one shell line: $(...) contents become commands of their own."""
    out = []
    while (i := line.find("$(")) >= 0:
        depth, j = 1, i + 2
        while j < len(line) and depth:
            depth += {"(": 1, ")": -1}.get(line[j], 0)
            j += 1
        closed = depth == 0  # else it closes on a later line (after a here-document)
        out += simple_commands(line[i + 2:j - 1] if closed else line[i + 2:])
        line = line[:i] + "SUBST" + (line[j:] if closed else "")
    try:
        lex = shlex.shlex(line, posix=True, punctuation_chars=";&|<>()")
        lex.whitespace_split = True
        lex.commenters = "#"
        tokens = list(lex)
    except ValueError as e:
        return out + [["<unparsable: " + str(e) + ">"]]
    cmd = []
    for t in tokens + [";"]:
        if t and set(t) <= set(";&|()"):
            if cmd:
                out.append(cmd)
            cmd = []
        elif t and set(t) <= set("<>"):
            cmd.append(t)
        else:
            cmd.append(t)
    return out


def check_commands(repo, defects):
    doc = repo.root / "docs" / "REQUESTER_GUIDE.md"
    usage = ra_usage(repo)
    count = 0
    for start, body in fenced_blocks(doc.read_text()):
        joined, heredoc = [], None
        for n, line in enumerate(body, start):
            if heredoc is not None:
                if line.strip() == heredoc:
                    heredoc = None
                continue
            if joined and joined[-1][1].endswith("\\"):
                joined[-1] = (joined[-1][0], joined[-1][1][:-1] + " " + line.strip())
            else:
                joined.append((n, line.strip()))
            if m := re.search(r"<<-?\s*'?(\w+)'?", line):
                heredoc = m.group(1)
        for n, line in joined:
            if not line or line.startswith("#"):
                continue
            for words in simple_commands(line):
                words = [w for w in words if w not in ("<", ">", ">>", "2>", "<<")]
                while words and (re.fullmatch(r"[A-Za-z_]\w*=.*", words[0]) or words[0] in PREFIXES):
                    words = words[1:]
                if not words:
                    continue
                count += 1
                prog = words[0]
                where = f"docs/REQUESTER_GUIDE.md:{n}"
                if VERBOSE:
                    print(f"{where}: {' '.join(words)}")
                if prog.startswith("<unparsable"):
                    defects.append(f"{where}: {prog}")
                    continue
                name = pathlib.PurePath(prog).name
                if "/" in prog and not prog.startswith(("/", "$")):
                    if not (repo.root / prog).exists():
                        defects.append(f"{where}: runs {prog}, which is not in the repository")
                elif prog.startswith("$") and "/" not in prog:
                    defects.append(f"{where}: the program is a variable ({prog}): name it")
                elif name not in repo.programs:
                    defects.append(f"{where}: runs {name}, which this project neither builds nor installs")
                if name in ("ca-ra", "acme-ca-ra"):
                    check_ra_command(words[1:], usage, where, defects)
                elif name in CLIENT_HELP:
                    check_client_options(name, words[1:], where, defects)
    return count


# The ACME clients' long options, from their own help (checked only where the client is installed:
# scripts/install-deps.sh installs both, so CI checks them). lego's global options come before its
# command, the command's own after it.
CLIENT_HELP = {"certbot": {None: ["--help", "all"]},
               "lego": {None: ["--help"], "run": ["run", "--help"], "renew": ["renew", "--help"],
                        "revoke": ["revoke", "--help"]}}
_help_cache = {}


def client_help(name, command):
    import shutil
    import subprocess
    key = (name, command)
    if key not in _help_cache:
        args = CLIENT_HELP[name].get(command)
        if args is None or shutil.which(name) is None:
            _help_cache[key] = None
        else:
            import tempfile
            with tempfile.TemporaryDirectory() as cwd:  # lego makes ./.lego wherever it runs
                r = subprocess.run([name, *args], capture_output=True, text=True, timeout=60, cwd=cwd)
            _help_cache[key] = r.stdout + r.stderr
    return _help_cache[key]


def check_client_options(name, args, where, defects):
    command = None
    for a in args:
        if name == "lego" and command is None and a in CLIENT_HELP["lego"]:
            command = a
            continue
        if not a.startswith("--"):
            continue
        opt = a.split("=")[0]
        text = client_help(name, command)
        if text is None:
            continue
        if not re.search(rf"(^|[\s,]){re.escape(opt)}(?![\w-])", text, re.M):
            defects.append(f"{where}: {name}{' ' + command if command else ''} has no option {opt}")


def check_ra_command(args, usage, where, defects):
    i = 0
    while i < len(args) and args[i].startswith("--"):  # global options
        opt = args[i].split("=")[0]
        if opt not in usage:
            defects.append(f"{where}: ca-ra has no global option {opt}")
        i += 1 if opt in ("--json",) else 2
    words = [a for a in args[i:] if re.fullmatch(r"[a-z][a-z-]+", a)][:2]
    if words:
        lines = [l for l in usage.splitlines() if re.search(rf"(^|\s|\|){re.escape(words[0])}(\s|$)", l)]
        if not lines:
            defects.append(f"{where}: ca-ra has no command {words[0]}")
        elif len(words) > 1 and not any(re.search(rf"(^|[\s|]){re.escape(words[1])}([\s|]|$)", l)
                                        for l in lines):
            defects.append(f"{where}: ca-ra {words[0]} has no subcommand {words[1]}")
    for a in args[i:]:
        if a.startswith("--") and a.split("=")[0] not in usage:
            defects.append(f"{where}: ca-ra has no option {a.split('=')[0]}")


def check_requester_sections(repo, defects):
    doc = repo.root / "docs" / "REQUESTER_GUIDE.md"
    headings = [l for l in strip_fenced(doc.read_text()) if l.startswith("#")]
    for r in REQUESTER_SECTIONS:
        if not any(re.search(rf"\b{r}\b", h) for h in headings):
            defects.append(f"docs/REQUESTER_GUIDE.md: no section heading names {r}")


def links_main(repo):
    defects = []
    for d in CHECKED_DOCS:
        if not (repo.root / d).exists():
            defects.append(f"{d}: missing")
    if defects:
        return defects, ""
    for d in CHECKED_DOCS:
        check_names(repo, repo.root / d, defects)
    markdown = [repo.root / "README.md", *sorted((repo.root / "docs").glob("*.md")),
                *sorted(p for p in repo.files if p.name == "README.md" and p.parent != repo.root)]
    for doc in markdown:
        check_links(repo, doc, defects)
    rows = check_matrix(repo, defects)
    check_requester_sections(repo, defects)
    commands = check_commands(repo, defects)
    return defects, (f"{len(CHECKED_DOCS)} documents: names and paths exist, the links of {len(markdown)} "
                     f"Markdown files resolve, {len(rows)} ANSSI rows, {commands} requester commands known")


# ---------------------------------------------------------------- docs/DEVIATIONS.md

def seed_codes(root):
    """The codes of the seed document when it is there (../shared/seeds), else None."""
    for seed in sorted((root.parent / "shared" / "seeds").glob("*.txt")):
        text = seed.read_text(errors="replace")
        if "Result code" in text and "ACME_CA_ERROR" in text:
            return re.findall(r"^- \*\*([A-Z_]+):\*\*", text, re.M)
    return None


def sources(root, tests):
    for d in SERVICE_DIRS:
        for p in (root / d).rglob("*"):
            if p.suffix not in (".cpp", ".h"):
                continue
            if ("_test" in p.stem or "testing" in p.parts) == tests:
                yield p


def deviations_main(repo):
    root = repo.root
    doc = (root / "docs" / "DEVIATIONS.md").read_text()
    defects = []
    expected = seed_codes(root) or CTD_CODES
    if sorted(expected) != sorted(CTD_CODES):
        defects.append(f"the seed's result codes differ from this check's list: {sorted(set(expected) ^ set(CTD_CODES))}")
    rows = {}
    for line in doc.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"[A-Z_]+", cells[0]) and cells[1] in ("emitted", "n.a."):
            if cells[0] in rows:
                defects.append(f"{cells[0]}: more than one row")
            rows[cells[0]] = cells
    for code in expected:
        if code not in rows:
            defects.append(f"{code}: no row in docs/DEVIATIONS.md")
    # The decision's table of code names proves nothing: drop its lines.
    code_text = "\n".join(
        line for p in sources(root, tests=False) for line in p.read_text(errors="replace").splitlines()
        if not re.search(r'\{ResultCode::k\w+, "', line))
    for code, cells in rows.items():
        if cells[1] == "emitted":
            camel = "k" + "".join(w.capitalize() for w in code.lower().split("_"))
            if f"{code}: " not in code_text and f"ResultCode::{camel}" not in code_text and \
                    f'"{code}"' not in code_text:
                defects.append(f"{code}: marked emitted but no source produces it")
        elif len(cells[4]) < 20:
            defects.append(f"{code}: n.a. without its reason")
    for name in re.findall(r"`((?:[A-Z]\w+\.\w+)|(?:test_\w+))`", doc):
        if not repo.is_test(name) and name.rsplit(".", 1)[-1] not in FILE_EXTENSIONS:
            defects.append(f"names a test that does not exist: {name}")
    defects = ["docs/DEVIATIONS.md: " + d for d in defects]
    return defects, f"docs/DEVIATIONS.md: {len(rows)} result codes, every named test exists"


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("deviations", "links"):
        print("usage: docs_check.py deviations|links ROOT", file=sys.stderr)
        return 2
    repo = Repo(pathlib.Path(sys.argv[2]).resolve())
    defects, summary = (deviations_main if sys.argv[1] == "deviations" else links_main)(repo)
    for d in defects:
        print(d)
    if not defects:
        print(summary)
    return 1 if defects else 0


if __name__ == "__main__":
    sys.exit(main())

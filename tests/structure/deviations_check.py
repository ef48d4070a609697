#!/usr/bin/python3
"""Checks docs/DEVIATIONS.md against the code (ctest docs_deviations).

- every result code of the operator's technical document (the seed's "Result code" list, or the
  list below when the seeds are not beside the repository) has exactly one row;
- a code marked "emitted" appears in a non-test source of the services, with its colon (as the
  start of a problem detail) or as a policy decision; a code marked "n.a." gives its reason;
- every test the document names exists: GoogleTest `TEST(Suite, Name)` / `TEST_F(Suite, Name)`,
  or a Python `def name`.
Prints one line per defect and exits 1 when there is any.
"""
import pathlib
import re
import sys

CTD_CODES = """DEACTIVATED_ACCOUNT DEACTIVATED_EXTERNAL_ACCOUNT DOMAIN_NOT_ASSOCIATED DOMAIN_NOT_FOUND
EXPIRED_ACCOUNT EXPIRED_EXTERNAL_ACCOUNT EXTERNAL_ACCOUNT_NOT_FOUND INVALID_DNSCAA INVALID_DOMAIN
INVALID_DOMAIN_FOR_WILDCARD_PROFILE INVALID_PROFILE_FOR_WILDCARD NO_DOCUMENT_FORM_FOUND
NO_VALID_ORGANIZATION_DOCUMENT_FOUND NOT_SAME_ORGANIZATION ORGANIZATION_IS_NOT_VALID OUT_OF_CREDIT
PENDING_EXTERNAL_ACCOUNT RATE_LIMITED REVOKED_ACCOUNT REVOKED_EXTERNAL_ACCOUNT SUSPENDED_ACCOUNT
SUSPENDED_EXTERNAL_ACCOUNT UNAUTHORIZED_DOMAIN ACME_ORDER_NOT_READ ACME_REQUEST_NOT_FOUND
ACME_ORDER_FINALIZE_ERROR ACME_CA_ERROR ACME_OTHER_ERROR ACME_DEACTIVATED BAD_SIGNATURE""".split()

SERVICE_DIRS = ["gateway", "engine", "profiles"]


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


def test_names(root):
    names = set()
    pattern = re.compile(r"^TEST(?:_F|_P)?\((\w+),\s*(\w+)\)", re.M)
    for p in root.rglob("*_test.cpp"):
        if "build" in p.relative_to(root).parts[:1]:
            continue
        for suite, name in pattern.findall(p.read_text(errors="replace")):
            names.add(f"{suite}.{name}")
    for p in (root / "tests").rglob("*.py"):
        names.update(re.findall(r"^\s*def (test_\w+)", p.read_text(errors="replace"), re.M))
    return names


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
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
    known = test_names(root)
    for code, cells in rows.items():
        if cells[1] == "emitted":
            camel = "k" + "".join(w.capitalize() for w in code.lower().split("_"))
            if f"{code}: " not in code_text and f"ResultCode::{camel}" not in code_text and \
                    f'"{code}"' not in code_text:
                defects.append(f"{code}: marked emitted but no source produces it")
        elif len(cells[4]) < 20:
            defects.append(f"{code}: n.a. without its reason")
    for name in re.findall(r"`((?:[A-Z]\w+\.\w+)|(?:test_\w+))`", doc):
        if name not in known:
            defects.append(f"names a test that does not exist: {name}")
    for d in defects:
        print("docs/DEVIATIONS.md:", d)
    if not defects:
        print(f"docs/DEVIATIONS.md: {len(rows)} result codes, every named test exists")
    return 1 if defects else 0


if __name__ == "__main__":
    sys.exit(main())

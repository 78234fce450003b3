"""Every row of README.md's "netstructer for grpcurl users" table names
tests (`Suite.Name`) that exist in the CLI's test files: the table's
promise that each row is covered stays true when tests are renamed."""
import re
import sys


def main():
    readme = open(sys.argv[1], encoding="utf-8").read()
    sources = "".join(open(p, encoding="utf-8").read() for p in sys.argv[2:])
    section = readme.split("### netstructer for grpcurl users", 1)
    if len(section) != 2:
        sys.exit("README.md has no 'netstructer for grpcurl users' section")
    # The table: every line after its "| --- |" separator, to the first
    # line that is not a table row.
    lines = section[1].split("\n")
    start = next((i for i, l in enumerate(lines) if l.startswith("| ---")), None)
    if start is None:
        sys.exit("the grpcurl section has no table")
    rows = []
    for line in lines[start + 1:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    defined = set(re.findall(r"TEST(?:_F|_P)?\((\w+), (\w+)\)", sources))
    problems = []
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        tests = re.findall(r"`(\w+)\.(\w+)`", cells[-1])
        if not tests:
            problems.append(f"row without a test: {row}")
        for suite, name in tests:
            if (suite, name) not in defined:
                problems.append(f"{suite}.{name} (row: {cells[0]}) is not a test")
    if len(rows) < 10:
        problems.append(f"only {len(rows)} rows found")
    if problems:
        sys.exit("\n".join(problems))
    print(f"{len(rows)} rows, every test named exists")


main()

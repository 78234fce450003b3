"""Every ```c++ block of README.md appears, line for line, in
readme_snippets_test.cc between "// README snippet N" and
"// end of README snippet" (at one indentation), and nothing else is
there: the README's C++ is the code that test compiles and runs."""
import re
import sys


def blocks(readme):
    out, cur = [], None
    for line in readme.split("\n"):
        if line.startswith("```c++"):
            cur = []
        elif line.startswith("```") and cur is not None:
            out.append(cur)
            cur = None
        elif cur is not None:
            cur.append(line)
    return out


def regions(source):
    out = {}
    lines = source.split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^( *)// README snippet (\d+)$", lines[i])
        if not m:
            i += 1
            continue
        indent, number = m.group(1), int(m.group(2))
        body = []
        i += 1
        while lines[i].strip() != "// end of README snippet":
            line = lines[i]
            if line.strip() and not line.startswith(indent):
                sys.exit(f"snippet {number}: line {i + 1} is not indented "
                         f"like its marker: {line!r}")
            body.append(line[len(indent):] if line.strip() else "")
            i += 1
        out[number] = body
        i += 1
    return out


def main():
    readme_path, source_path = sys.argv[1], sys.argv[2]
    readme = blocks(open(readme_path, encoding="utf-8").read())
    compiled = regions(open(source_path, encoding="utf-8").read())
    failures = []
    if len(readme) != len(compiled):
        failures.append(f"README.md has {len(readme)} C++ blocks, the test "
                        f"{len(compiled)} snippets")
    for n, block in enumerate(readme, 1):
        got = compiled.get(n)
        want = [l if l.strip() else "" for l in block]
        if got != want:
            failures.append(f"README C++ block {n} (starting {block[0]!r}) "
                            f"differs from snippet {n} of the test")
    if failures:
        sys.exit("\n".join(failures) +
                 "\nEdit both together (tests/docs/readme_snippets_test.cc).")
    print(f"{len(readme)} README C++ blocks match the compiled snippets")


main()

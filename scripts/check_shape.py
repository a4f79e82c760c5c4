#!/usr/bin/env python3
"""The code-shape limits of docs/architecture.md, checked: no function in src/ longer than MAX_FUNC lines
and no file longer than MAX_FILE lines, except the declarative tables listed in ALLOWED (data the code
reads, not logic). Prints one `FILE:LINE: what` per breach and exits 1 if any.

Functions are found by brace matching on the source with comments, strings and character literals blanked:
a top-level `{` (or one directly inside a namespace, class or struct) whose header ends in `)`, `) const`,
`) override`, `-> T` or a lambda capture list opens a function body. Good enough for this tree's style
(clang-format, one definition per line); it is a guard, not a parser.

  python3 scripts/check_shape.py [--max-func 120] [--max-file 700] [ROOT]
"""
import argparse
import pathlib
import re
import sys

# Declarative tables: files or functions whose length is data, not control flow. (path, function or None)
ALLOWED = {
}


def blank_literals(text):
    """Comments, string and char literals replaced by spaces (newlines kept), so braces inside them vanish."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i)); i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j])); i = j
        elif text.startswith('R"', i):
            m = re.match(r'R"([^(\s]*)\(', text[i:])
            end = text.find(")" + m.group(1) + '"', i) if m else -1
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j])); i = j
        elif c in "\"'":
            if c == "'" and i > 0 and (text[i - 1].isalnum()):  # digit separator 1'000
                out.append(c); i += 1; continue
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            j = min(n, j + 1)
            out.append(re.sub(r"[^\n]", " ", text[i:j])); i = j
        else:
            out.append(c); i += 1
    return "".join(out)


FUNC_HEADER = re.compile(r"(\)\s*(const|override|noexcept|final|mutable|\s)*|->\s*[\w:<>,\s*&]+|\])\s*$")
SCOPE_HEADER = re.compile(r"\b(namespace|class|struct|union|enum)\b[^;{}()]*$")


def functions(text):
    """(name, first line, last line) of each function body in the file, outermost only."""
    code = blank_literals(text)
    found, stack = [], []  # stack of (kind, start index)
    last = 0
    for i, c in enumerate(code):
        if c == "{":
            header = code[last:i]
            header = header[header.rfind(";") + 1:] if ";" in header else header
            in_func = any(k == "func" for k, _ in stack)
            if in_func:
                kind = "block"
            elif SCOPE_HEADER.search(header.strip().split("\n")[-1] if header.strip() else ""):
                kind = "scope"
            elif FUNC_HEADER.search(header) and "=" not in header.split("(")[0][-3:]:
                kind = "func"
            else:
                kind = "scope"
            stack.append((kind, i))
            last = i + 1
        elif c == "}":
            if stack:
                kind, start = stack.pop()
                if kind == "func" and not any(k == "func" for k, _ in stack):
                    head = code[:start].rstrip()
                    m = re.search(r"([~\w:]+)\s*\([^()]*(\([^()]*\)[^()]*)*\)[^()]*$", head[-400:])
                    name = m.group(1) if m else "?"
                    found.append((name, code.count("\n", 0, start) + 1, code.count("\n", 0, i) + 1))
            last = i + 1
        elif c == ";":
            last = i + 1
    return found


def self_check(max_func):
    """The scanner must see a too-long function, a lambda inside it, a struct method and braces in strings."""
    body = "\n".join(f"  x += {i};" for i in range(max_func))
    text = ("namespace a {\nstruct S {\n  int f() const {\n    return 1;\n  }\n};\n"
            "int long_one(int x) {\n  auto l = [&](int y) {\n    return y + 1;\n  };\n  const char* s = \"{{\";\n"
            + body + "\n  return x;\n}\n}  // namespace a\n")
    found = {name: last - first + 1 for name, first, last in functions(text)}
    ok = found.get("S::f", found.get("f")) == 3 and found.get("long_one", 0) > max_func
    if not ok:
        print(f"check_shape: the scanner misread its own sample: {found}")
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-func", type=int, default=120)
    ap.add_argument("--max-file", type=int, default=700)
    ap.add_argument("root", nargs="?", default=str(pathlib.Path(__file__).resolve().parent.parent))
    a = ap.parse_args()
    root = pathlib.Path(a.root)
    if not self_check(a.max_func):
        return 1
    problems = []
    for path in sorted((root / "src").rglob("*")):
        if path.suffix not in (".cpp", ".hpp"):
            continue
        rel = str(path.relative_to(root))
        text = path.read_text()
        lines = text.count("\n")
        if lines > a.max_file and (rel, None) not in ALLOWED:
            problems.append(f"{rel}:1: file has {lines} lines (limit {a.max_file})")
        for name, first, last in functions(text):
            n = last - first + 1
            if n > a.max_func and (rel, name) not in ALLOWED:
                problems.append(f"{rel}:{first}: {name} has {n} lines (limit {a.max_func})")
    for p in problems:
        print(p)
    print(f"check_shape: {len(problems)} over the limits" if problems else "check_shape: every file and function within the limits")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

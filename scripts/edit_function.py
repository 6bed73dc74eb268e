#!/usr/bin/env python3
"""Changes one constant in one C function's body, as an edit between two builds would.

Usage: edit_function.py SOURCE FUNCTION OUTPUT

The first decimal literal of the body, outside comments, strings and assert-like lines (which
NDEBUG builds drop), becomes its value plus one. Prints the line it changed.
"""
import re
import sys

SKIPPED = re.compile(r"^\s*(assert|testcase|VVA_ONLY|ALWAYS|NEVER)\b")


def body_span(text, function):
    """Start and end offsets of FUNCTION's body: its definition's braces."""
    # A definition starts at the beginning of a line (its type) and has its body right after
    # its parameter list; comments (` ** name(...)`) and calls do not.
    definition = r"^[A-Za-z_][^;{}\n]*\b%s\s*\(([^;{}()]|\([^()]*\))*\)\s*\{"
    for match in re.finditer(definition % re.escape(function), text, re.M):
        depth, at = 0, match.end() - 1
        brace = at
        while True:
            depth += {"{": 1, "}": -1}.get(text[at], 0)
            if depth == 0:
                return brace, at
            at += 1
    raise SystemExit(f"edit_function.py: no definition of {function}")


def main():
    source, function, output = sys.argv[1:4]
    text = open(source, encoding="latin-1").read()
    start, end = body_span(text, function)
    # Comments and strings blanked out, offsets kept, so that only code matches.
    blank = lambda m: re.sub(r"[^\n]", " ", m.group(0))
    body = re.sub(r'/\*.*?\*/|//[^\n]*|"(\\.|[^"\\\n])*"', blank, text[start:end], flags=re.S)
    offset = start
    for line, code in zip(text[start:end].splitlines(keepends=True), body.splitlines(keepends=True)):
        literal = None if SKIPPED.match(code) else re.search(r"(?<![\w.])\d+(?![\w.])", code)
        if literal:
            at = offset + literal.start()
            value = int(literal.group(0))
            text = text[:at] + str(value + 1) + text[offset + literal.end():]
            print(f"{function}: {line.strip()}  ({value} -> {value + 1})")
            open(output, "w", encoding="latin-1").write(text)
            return
        offset += len(line)
    raise SystemExit(f"edit_function.py: no constant in {function}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Changes one constant in one C function's body, as an edit between two builds would.

Usage: edit_function.py [--grow] SOURCE FUNCTION OUTPUT

The first decimal literal of the body, outside comments, strings and assert-like lines (which
NDEBUG builds drop), becomes its value plus one. With --grow, the first statement that is a
call (`f(...);` or `x = f(...);`, on one line) is repeated on its own line, so the function gets
more code while every later line keeps its number (`__LINE__`). Prints the line it changed.
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


def code_lines(text, start, end):
    """(offset, line, code) of the body's lines; comments and strings blanked out in `code`."""
    blank = lambda m: re.sub(r"[^\n]", " ", m.group(0))
    body = re.sub(r'/\*.*?\*/|//[^\n]*|"(\\.|[^"\\\n])*"', blank, text[start:end], flags=re.S)
    offset = start
    for line, code in zip(text[start:end].splitlines(keepends=True), body.splitlines(keepends=True)):
        yield offset, line, code
        offset += len(line)


def bump_constant(text, function, start, end):
    for offset, line, code in code_lines(text, start, end):
        literal = None if SKIPPED.match(code) else re.search(r"(?<![\w.])\d+(?![\w.])", code)
        if literal:
            at, value = offset + literal.start(), int(literal.group(0))
            print(f"{function}: {line.strip()}  ({value} -> {value + 1})")
            return text[:at] + str(value + 1) + text[offset + literal.end():]
    raise SystemExit(f"edit_function.py: no constant in {function}")


def repeat_statement(text, function, start, end):
    for offset, line, code in code_lines(text, start, end):
        statement = code.strip()
        call = re.match(r"[A-Za-z_][\w.>-]*\s*(=\s*[A-Za-z_]\w*\s*)?\(", statement)
        if (call and not SKIPPED.match(code) and statement.endswith(";")
                and statement.count(";") == 1 and statement.count("(") == statement.count(")")
                and not re.match(r"(if|for|while|switch|return)\b", statement)):
            stop = offset + len(line.rstrip("\n"))
            print(f"{function}: {line.strip()}  (repeated)")
            return text[:stop] + " " + line.strip() + text[stop:]
    raise SystemExit(f"edit_function.py: no one-line statement in {function}")


def main():
    args = sys.argv[1:]
    grow = args[0] == "--grow"
    source, function, output = args[1:4] if grow else args[0:3]
    text = open(source, encoding="latin-1").read()
    start, end = body_span(text, function)
    edit = repeat_statement if grow else bump_constant
    open(output, "w", encoding="latin-1").write(edit(text, function, start, end))


if __name__ == "__main__":
    main()

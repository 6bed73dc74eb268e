#!/usr/bin/env python3
"""Strict equivalence of two LLVM modules, for the lit fixtures: the same comparison as
tests/common/irdiff.rs (read it for what is compared and how names are resolved).

usage: irdiff.py REFERENCE CANDIDATE   (bitcode or text; llvm-dis from PATH)
Exit 0 when equivalent, 1 with the differences on stderr otherwise."""
import hashlib
import re
import subprocess
import sys

NAME = r'(?:"[^"]*"|[-a-zA-Z$._0-9]+)'
TOKEN = re.compile(r'(;.*$)|("[^"]*")|(@"[^"]*")|%(' + NAME + r')|([#!])([0-9]+)')
TYPE_WORDS = {"x", "alloca", "load", "volatile", "getelementptr", "inbounds", "nuw", "nusw",
              "extractvalue", "insertvalue", "to", "ret", "phi", "call", "invoke"}


def disassemble(path):
    text = subprocess.run(["llvm-dis", path, "-o", "-"], check=True, capture_output=True,
                          text=True).stdout
    return "\n".join(l for l in text.splitlines() if not l.startswith("; ModuleID"))


def definition(line, prefix):
    m = re.match(re.escape(prefix) + "(" + NAME + ") = (.*)$", line)
    return (m.group(1), m.group(2)) if m else None


def is_type_position(line, start, end):
    before, after = line[:start], line[end:]
    if after.startswith((" = ", " ]", " to ")):
        return False
    if after.startswith(" "):
        return True
    b = before.rstrip()
    if b.endswith("label"):
        return False
    if b.endswith("[") and not before.endswith("[ "):
        return True
    if before.endswith("[ "):
        return False
    if b.endswith(","):
        i = b.rfind("blockaddress(")
        return " phi " not in line and not (i >= 0 and ")" not in b[i:])
    last = b.split()[-1] if b.split() else ""
    return last.endswith(("(", "{", "[")) or last in TYPE_WORDS


class Module:
    def __init__(self, text):
        lines = text.splitlines()
        self.types, self.attrs, self.md = {}, {}, {}
        self.shapes, self.hashes = {}, {}
        for l in lines:
            d = definition(l, "%")
            if d and d[1].startswith("type "):
                self.types[d[0]] = d[1][5:]
            elif l.startswith("attributes #"):
                n, _, contents = l[len("attributes #"):].partition(" = ")
                self.attrs[n] = contents
            else:
                d = definition(l, "!")
                if d and d[0].isdigit():
                    self.md[d[0]] = d[1]
        self.sections = {k: {} for k in ("module", "comdat", "global", "function", "named metadata")}
        self.order = {"globals": [], "functions": []}
        i = 0
        while i < len(lines):
            l = lines[i]
            i += 1
            if l.startswith("define "):
                start = i
                while i < len(lines) and lines[i] != "}":
                    i += 1
                body = lines[start:i]
                i += 1
                local = self.locals(l, body)
                name = self.global_name(l)
                v = [self.normalize(l, local)] + [n for n in (self.normalize(b, local) for b in body) if n.strip()]
                self.order["functions"].append(name)
                self.sections["function"][name] = v
            elif l.startswith("declare "):
                # Declarations' order is not compared: passes append those they create.
                name = self.global_name(l)
                self.sections["function"].setdefault(name, []).append(self.normalize(l, set()))
            elif definition(l, "@"):
                name = "@" + definition(l, "@")[0]
                self.order["globals"].append(name)
                self.sections["global"].setdefault(name, []).append(self.normalize(l, set()))
            elif definition(l, "$"):
                self.sections["comdat"].setdefault("$" + definition(l, "$")[0], []).append(l)
            elif definition(l, "!") and not definition(l, "!")[0].isdigit():
                self.sections["named metadata"].setdefault("!" + definition(l, "!")[0], []).append(
                    self.normalize(l, set()))
            elif l.startswith(("source_filename", "target ", "module asm")):
                key = "module asm" if l.startswith("module asm") else l.split(" = ")[0]
                self.sections["module"].setdefault(key, []).append(l)

    @staticmethod
    def global_name(line):
        m = re.search(r'@(' + NAME + ')', line)
        return "@" + m.group(1)

    @staticmethod
    def locals(header, body):
        names = set(re.findall(r'%(' + NAME + r')(?=[,)])', header.split("(", 1)[1] if "(" in header else ""))
        for b in body:
            d = definition(b.lstrip(), "%")
            if d:
                names.add(d[0])
            elif not b.startswith(" "):
                label = b.split(" ;")[0].rstrip()
                if label.endswith(":"):
                    names.add(label[:-1])
        return names

    def shape(self, name, visiting=()):
        if name in self.shapes:
            return self.shapes[name]
        if name in visiting:
            return "%<recursive " + name + ">"
        s = self.normalize(self.types[name], set(), visiting=visiting + (name,))
        self.shapes[name] = s
        return s

    def md_hash(self, n, depth):
        if depth == 0:
            return "!_"
        key = (n, depth)
        if key not in self.hashes:
            text = self.normalize(self.md.get(n, "<undefined>"), set(), depth - 1)
            self.hashes[key] = "!<" + hashlib.sha1(text.encode()).hexdigest()[:16] + ">"
        return self.hashes[key]

    def normalize(self, line, local, depth=6, visiting=None):
        out, pos = [], 0
        for m in TOKEN.finditer(line):
            out.append(line[pos:m.start()])
            pos = m.end()
            comment, string, quoted_global, name, sigil, number = m.groups()
            if comment is not None:
                pos = len(line)
                break
            if string is not None or quoted_global is not None:
                out.append(m.group(0))
            elif name is not None:
                is_local = local and (name in local or name.isdigit())
                if name in self.types and (not is_local or is_type_position(line, m.start(), m.end())):
                    out.append(self.shape(name, visiting or ()))
                else:
                    out.append("%" + name)
            elif sigil == "#":
                out.append("#" + self.attrs.get(number, "<undefined %s>" % number))
            else:
                out.append(self.md_hash(number, depth))
        out.append(line[pos:])
        return "".join(out).rstrip()


def differences(a, b):
    found = []
    for what in a.sections:
        x, y = a.sections[what], b.sections[what]
        for name in sorted(set(x) | set(y)):
            if name not in y:
                found.append(f"{what} {name}: missing from the candidate")
            elif name not in x:
                found.append(f"{what} {name}: not in the reference")
            elif x[name] != y[name]:
                i = next(i for i in range(max(len(x[name]), len(y[name])))
                         if i >= len(x[name]) or i >= len(y[name]) or x[name][i] != y[name][i])
                line = lambda v: v[i] if i < len(v) else "<end>"
                found.append(f"{what} {name}, line {i + 1}:\n  reference: {line(x[name])}\n"
                             f"  candidate: {line(y[name])}")
    for what in a.order:
        common = set(a.order[what]) & set(b.order[what])
        xs = [n for n in a.order[what] if n in common]
        ys = [n for n in b.order[what] if n in common]
        for p, q in zip(xs, ys):
            if p != q:
                found.append(f"order of {what}: reference has {p} where candidate has {q}")
                break
    return found


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    found = differences(Module(disassemble(sys.argv[1])), Module(disassemble(sys.argv[2])))
    for f in found[:20]:
        print(f, file=sys.stderr)
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()

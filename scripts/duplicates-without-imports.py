#!/usr/bin/env python3
"""Run `duplicates` (the tool library's) on the tree with Go import blocks set aside.

`duplicates` passes over import lines, but it does not recognise the lines
inside Go's grouped `import ( ... )`: two files that import the same six
packages in the same order count as a pair "identical to the letter". This
script copies the files git tracks into a temporary directory, writes every
grouped import as single `import "path"` lines there (which the tool does
pass over), runs `duplicates` on that copy and prints its report. The tree
itself is not changed.

Use: python3 scripts/duplicates-without-imports.py [duplicates' options]
e.g. python3 scripts/duplicates-without-imports.py --most 50
"""

import os
import shutil
import subprocess
import sys
import tempfile


def flatten_imports(text):
    """Returns Go source with each grouped import on its own import line."""
    out, grouped = [], False
    for line in text.split("\n"):
        if line.startswith("import ("):
            grouped = True
            continue
        if grouped:
            if line.startswith(")"):
                grouped = False
            elif line.strip() and not line.strip().startswith("//"):
                out.append("import " + line.strip())
            continue
        out.append(line)
    return "\n".join(out)


def main():
    root = subprocess.check_output(["git", "rev-parse", "--show-toplevel"], text=True).strip()
    files = subprocess.check_output(["git", "ls-files", "-z"], cwd=root).decode().split("\0")
    with tempfile.TemporaryDirectory(prefix="duplicates-") as copy:
        for name in filter(None, files):
            src, dst = os.path.join(root, name), os.path.join(copy, name)
            if os.path.islink(src) or not os.path.isfile(src):
                continue
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            if name.endswith(".go"):
                with open(src, encoding="utf-8", errors="surrogateescape") as f:
                    text = flatten_imports(f.read())
                with open(dst, "w", encoding="utf-8", errors="surrogateescape") as f:
                    f.write(text)
            else:
                shutil.copyfile(src, dst)
        return subprocess.call(["duplicates", *sys.argv[1:]], cwd=copy)


if __name__ == "__main__":
    sys.exit(main())

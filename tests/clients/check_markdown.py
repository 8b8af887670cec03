"""The repository's Markdown as GitHub renders it, checked with a real CommonMark parser (markdown-it-py
with tables): every fenced block closed by a fence of its own kind, every heading a heading (not swallowed
by a block), every line that starts with `|` part of a table or a block.

Usage: check_markdown.py FILE...   (exit 1 with one line per problem)
"""
import re
import sys

from markdown_it import MarkdownIt

md = MarkdownIt("commonmark").enable("table")
problems = []
for path in sys.argv[1:]:
    text = open(path, encoding="utf-8").read()
    lines = text.split("\n")
    tokens = md.parse(text)
    in_block = set()
    tables = set()
    headings = set()
    for t in tokens:
        if t.map is None:
            continue
        start, end = t.map
        if t.type in ("fence", "code_block"):
            in_block.update(range(start, end))
        if t.type == "table_open":
            tables.update(range(start, end))
        if t.type == "heading_open":
            headings.add(start)
        if t.type == "fence":
            closing = lines[end - 1].strip() if end - 1 > start else ""
            fence_char = t.markup[0]
            if not (
                closing.startswith(t.markup)
                and set(closing) <= {fence_char}
            ):
                problems.append(
                    f"{path}:{start + 1}: the block opened here is not closed (it runs to line {end})"
                )
            for i in range(start + 1, end - 1):
                inner = lines[i].strip()
                # A fence line with words after it closes nothing: the block runs on (the README once
                # swallowed its commands and tables this way).
                if inner.startswith(t.markup) and not set(inner) <= {fence_char}:
                    problems.append(
                        f"{path}:{i + 1}: '{inner[:40]}' inside the block opened at line {start + 1} does not close it"
                    )
                # A Markdown table's separator row inside a block that is not Markdown.
                if t.info.strip() not in ("markdown", "md") and re.fullmatch(r"\|(\s*:?-{3,}:?\s*\|)+", inner):
                    problems.append(
                        f"{path}:{i + 1}: a table inside the block opened at line {start + 1} renders as code"
                    )
    for i, line in enumerate(lines):
        if i in in_block:
            continue
        if re.match(r"#{1,6} \S", line) and i not in headings:
            problems.append(f"{path}:{i + 1}: '{line}' does not render as a heading")
        if line.startswith("|") and i not in tables:
            problems.append(f"{path}:{i + 1}: a table row outside any table: {line[:60]}")
for p in problems:
    print(p)
sys.exit(1 if problems else 0)

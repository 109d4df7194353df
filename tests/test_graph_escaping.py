"""`flowtui graph` of tasks whose names hold quotes, backslashes, newlines, brackets, pipes or control
characters: the dot parses (checked by Graphviz itself when `dot` is installed, and always by the
quoting rules below), and Mermaid gets its documented entity codes (`#quot;`, `#35;`…).
"""

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from flowtui.engine.graphviz import to_dot, to_mermaid
from flowtui.engine.loaders import load

STAGE = 'st"age\\ [1] | {x}'
NAMES = [
    "two\nlines", 'say "hi"', "back\\slash\\", "[brackets] (parens) {braces}", "pi|pe", "bell\x07 nul\x00 del\x7f",
    "tab\there", "#quot; and #35;", "<b>bold</b> & co", "%%{init: {'theme': 'dark'}}%%", "`markdown`", "\\N \\G \\l",
    "end", "crlf\r\nnext", "x\\\nnext",
]


def picture(char):
    """How a control character is shown in a label: its Unicode control picture."""
    code = ord(char)
    return chr(0x2400 + code) if code < 0x20 else "\u2421" if code == 0x7F else "\ufffd"


def shown(name):
    """A name's label text, line by line."""
    return ["".join(picture(c) if ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F else c for c in line)
            for line in (name.splitlines() or [""])]


@pytest.fixture
def flow(tmp_path):
    path = tmp_path / "tricky.json"
    path.write_text(json.dumps({"name": 'the "tricky" one\n', STAGE: [{"name": n, "cmd": "true"} for n in NAMES],
                                "after": [{"name": "last", "cmd": "true"}]}))
    return load(str(path))[0]


# -- dot -----------------------------------------------------------------------------------------
QUOTED = re.compile(r'"((?:[^"\\\n]|\\[^\n])*)"')  # a raw newline in a string: not ours (see below)
STATEMENT = re.compile(r"""(?x)^\s*(?:
    digraph\ Q\ \{ | rankdir=LR; | compound=true; | node\ \[shape=box,\ style=rounded\]; | subgraph\ Q\ \{
    | label=Q; | Q\ \[label=Q(?:,\ shape=diamond)?\]; | Q\ ->\ Q(?:\ \[[a-z]+=Q(?:,\ [a-z]+=Q)*\])?; | \}
)$""")


def dot_unquote(text):
    """A label's text: `\\\\` is a backslash, `\\"` a quote, `\\n` a line break (Graphviz's escString)."""
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


def test_dot_quotes_every_name_so_each_statement_stays_on_its_line(flow):
    text = to_dot(flow)
    strings = QUOTED.findall(text)
    for line in QUOTED.sub("Q", text).splitlines():
        assert STATEMENT.match(line), line
    labels = [dot_unquote(s) for s in re.findall(r'label="((?:[^"\\]|\\.)*)"', text)]
    for name in NAMES:
        assert "\n".join(shown(name)) in labels, name
    assert "\x00" not in text and "\x07" not in text and "\x7f" not in text
    ids = [s for s in strings if s.startswith(STAGE.replace("\\", "\\\\").replace('"', '\\"') + "/")]
    assert len(set(ids)) == len(NAMES)  # every task keeps an id of its own


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_graphviz_reads_the_dot_and_draws_every_label(flow, tmp_path):
    result = subprocess.run(["dot", "-Tsvg"], input=to_dot(flow).encode(), capture_output=True, timeout=30)
    assert result.returncode == 0 and not result.stderr, result.stderr.decode()
    svg = ET.fromstring(result.stdout)  # control characters would make it invalid XML
    ns = {"s": "http://www.w3.org/2000/svg"}
    nodes = [g for g in svg.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "node"]
    assert len(nodes) == len(NAMES) + 1
    drawn = [[t.text or "" for t in g.findall("s:text", ns)] for g in nodes]
    for name in NAMES:
        assert [line.replace("\t", " ") for line in shown(name)] in [
            [line.replace("\t", " ").replace("\xa0", " ") for line in lines] for lines in drawn], (name, drawn)


# -- Mermaid -------------------------------------------------------------------------------------
NODE = re.compile(r'^\s*(?:subgraph )?n\d+(?:\["([^"]*)"\]|\{"([^"]*)"\})?$')


def mermaid_decode(text):
    """Mermaid's entity codes back to characters; `<br>` is a line break."""
    named = {"quot": '"', "amp": "&", "lt": "<", "gt": ">"}
    text = re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), re.sub(r"#([a-z]+);", lambda m: named[m.group(1)], text))
    return text.split("<br>")


def test_mermaid_labels_use_entity_codes_and_stay_on_their_line(flow):
    text = to_mermaid(flow)
    labels = []
    for line in text.splitlines()[1:]:
        if line.strip() == "end" or "-->" in line:
            assert re.fullmatch(r"\s*(?:end|n\d+ -->(?:\|[a-z0-9 ]+\|)? n\d+)", line), line
            continue
        match = NODE.match(line)
        assert match, line
        label = match.group(1) or match.group(2) or ""
        assert not re.search(r"[<>`%|\x00-\x1f\x7f]", label.replace("<br>", "")), label
        assert re.fullmatch(r"(?:[^#]|#(?:quot|amp|lt|gt|\d+);)*", label), label  # every # starts a code
        labels.append(mermaid_decode(label))
    for name in NAMES:
        assert shown(name) in labels, (name, labels)
    assert shown(STAGE) in labels

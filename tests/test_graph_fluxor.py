"""`flowtui graph` of Fluxor flows: every node an edge touches is drawn with its label.

`dependencies:` tasks are not under the pipeline roots, so the drawing must declare them too.
"""

import re
import textwrap

import pytest

from flowtui.engine.graphviz import to_dot, to_mermaid
from flowtui.engine.loaders.fluxor import load

DEPENDENCIES = """
    pipeline:
      first: {action: nop:nop}
      later:
        sub: {dependsOn: taskZ, action: nop:nop}
        grouped: {dependsOn: prep, action: nop:nop}
    dependencies:
      taskZ: {action: nop:nop}
      prep:
        fetch: {action: nop:nop}
"""


def load_text(tmp_path, text):
    path = tmp_path / "wf.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return load(str(path), path.read_text(), {})


def mermaid_parts(text):
    """(declared id -> label, [(source, target)])."""
    declared = dict(re.findall(r'^\s*(?:subgraph )?(n\d+)[\[{]"([^"]*)"', text, re.M))
    edges = re.findall(r"^\s*(n\d+) -->(?:\|[^|]*\|)? (n\d+)$", text, re.M)
    return declared, edges


def dot_parts(text):
    """(declared node -> label, declared clusters, [(source, target)], referenced clusters)."""
    declared = dict(re.findall(r'^\s*("[^"]*") \[label=("[^"]*")', text, re.M))
    clusters = set(re.findall(r'^\s*subgraph ("cluster_[^"]*")', text, re.M))
    edges = re.findall(r'^\s*("[^"]*") -> ("[^"]*")', text, re.M)
    referenced = set(re.findall(r'l(?:tail|head)=("cluster_[^"]*")', text))
    return declared, clusters, edges, referenced


def test_mermaid_declares_dependencies_tasks(tmp_path):
    declared, edges = mermaid_parts(to_mermaid(load_text(tmp_path, DEPENDENCIES)))
    assert {node for edge in edges for node in edge} <= set(declared)
    assert sorted(declared.values()) == sorted(["first", "later", "sub", "grouped", "taskZ", "prep", "fetch"])


def test_dot_declares_dependencies_tasks(tmp_path):
    text = to_dot(load_text(tmp_path, DEPENDENCIES))
    declared, clusters, edges, referenced = dot_parts(text)
    assert {node for edge in edges for node in edge} <= set(declared) and referenced <= clusters
    assert declared['"taskZ"'] == '"taskZ"' and declared['"prep/fetch"'] == '"fetch"'
    assert '"cluster_prep"' in clusters


def test_corpus_flow_yaml_graphs_name_task_z(corpus):
    path = corpus / "fluxor" / "service__dao__workflow__testdata__flow.yaml"
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    flow = load(str(path), path.read_text(), {})
    declared, edges = mermaid_parts(to_mermaid(flow))
    assert {node for edge in edges for node in edge} <= set(declared)
    assert (next(k for k, v in declared.items() if v == "taskZ"), next(k for k, v in declared.items() if v == "subTask")) in edges
    dot_declared, _, dot_edges, _ = dot_parts(to_dot(flow))
    assert ('"taskZ"', '"task2/subTask"') in dot_edges and dot_declared['"taskZ"'] == '"taskZ"'


def test_a_dependson_repeating_the_sibling_order_is_one_edge(tmp_path):
    flow = load_text(tmp_path, """
        pipeline:
          taskA:
            action: printer:print
            input: {message: A}
          taskB:
            dependsOn: taskA
            action: printer:print
            input: {message: B}
    """)
    assert to_mermaid(flow).count("n0 --> n1") == 1
    assert to_dot(flow).count('"taskA" -> "taskB"') == 1

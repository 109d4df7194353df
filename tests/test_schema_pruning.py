"""Wording the errors of a large document walks only what is wrong: the schema check cuts away
what conforms (`_pruned`) and the positions walk down one path (`JsonPositions`). Both must give
exactly what the whole walks give, for every document people write and every way to get it wrong."""

import copy
import json
import random

import pytest

from flowtui.engine.jsonpos import JsonPositions
from flowtui.engine.schema import _pruned, _worded, load_schema

from .conftest import REPO

SCHEMA = load_schema("flowctrl")
WRONG = [5, -1, 0.5, True, None, "", [], {}, [1], {"x": 1}, "x"]


def sketches(corpus=None):
    paths = [REPO / "sketches" / "demo.json", REPO / "sketches" / "deploy.json"]
    if corpus is not None:
        paths += sorted((corpus / "flowctrl").glob("*.json"))
    return [json.loads(p.read_text()) for p in paths]


def places(value, path=()):
    """Every path in `value`, containers and leaves."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from places(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from places(item, (*path, index))


def mutations(document, count, seed):
    """`count` copies of `document`, each with one to three values replaced, deleted or renamed."""
    rng = random.Random(seed)
    for _ in range(count):
        doc = copy.deepcopy(document)
        for _ in range(rng.randint(1, 3)):
            candidates = [p for p in places(doc) if p]
            if not candidates:
                break
            path = rng.choice(candidates)
            parent = doc
            for step in path[:-1]:
                parent = parent[step]
            how = rng.random()
            if how < 0.6 or isinstance(parent, list):
                parent[path[-1]] = copy.deepcopy(rng.choice(WRONG))
            elif how < 0.8:
                del parent[path[-1]]
            else:
                parent[str(path[-1]) + "x"] = parent.pop(path[-1])
        yield doc


@pytest.fixture
def documents(request):
    try:
        corpus = request.getfixturevalue("corpus")
    except pytest.skip.Exception:
        corpus = None
    return [d for d in sketches(corpus) if isinstance(d, dict)]


def test_errors_worded_from_the_cut_document_are_those_of_the_whole(documents):
    compared = 0
    for number, document in enumerate(documents):
        for doc in mutations(document, 60, seed=number):
            whole = _worded(SCHEMA, doc)
            cut = _worded(SCHEMA, *_pruned(SCHEMA, doc, SCHEMA), original=doc)
            assert sorted(cut, key=repr) == sorted(whole, key=repr), doc
            compared += bool(whole)
    assert compared > 50  # most mutations are errors


def test_a_path_found_by_walking_down_it_is_where_the_whole_scan_puts_it(documents):
    for document in documents:
        for indent in (None, 1, 4):
            text = json.dumps(document, indent=indent, ensure_ascii=False)
            walked, scanned = JsonPositions(text), JsonPositions(text, repeated_keys=True)
            for path in [*places(document), ("nosuch",), (0,)]:
                assert walked.at(path) == scanned.at(path), (indent, path)
                assert walked.key_at(path) == scanned.key_at(path), (indent, path)

"""Fluxor expressions and expansion: the spec's tables (§3.2, §3.4) with the intended results."""

import pytest

from flowtui.engine.fluxor.expand import expand
from flowtui.engine.fluxor.expr import ExprError, condition, evaluate

# spec §3.2, expand_test.go (Go's result where we keep it; `$number` keeps its int, as the test expects)
STATE = {
    "foo": "bar", "exec": {"stdout": "running 0"}, "name": "World", "greeting": "Hello",
    "user": {"name": "John", "surname": "Smith"}, "key": 13,
    "users": [{"name": "Ann"}, {"name": "Bob"}],
    "data": {"users": [{}, {"contacts": [{"email": "b@x"}]}]},
    "number": 42, "flag": True, "i": 5, "age": 25, "prefix": "custom", "values": [10, 20, 30],
    "list": {"entries": ["a", "b"]},
}


@pytest.mark.parametrize("template, expected", [
    ("$foo", "bar"),
    ("${exec.Stdout}", "running 0"),  # nested keys match case-insensitively
    ("Hello, ${name}!", "Hello, World!"),
    ("Hello, $name!", "Hello, World!"),
    ("$greeting, ${name}!", "Hello, World!"),
    ("${user.name} ${user.surname} ${key}", "John Smith 13"),
    ("${users[1].name}", "Bob"),
    ("${data.users[1].contacts[0].email}", "b@x"),
    ("${notFound}", ""),
    ("$notFound", "$notFound"),
    ("$number", 42),
    ("$flag", True),
    ("${i + 1}", 6),
    ("You are ${age + 5} years old in 5 years", "You are 30 years old in 5 years"),
    ("${values[0] + values[1]}", 30),
    ("$users", [{"name": "Ann"}, {"name": "Bob"}]),  # a pure reference keeps its type
    ("see $users here", "see $users here"),  # a list inside text stays as written
    # extensions (docs/fluxor.md)
    ("${ name }", "World"),
    ("${ $.list.entries }", ["a", "b"]),
    ("Hello $name.", "Hello World."),
])
def test_expand_table(template, expected):
    assert expand(template, STATE) == expected


def test_expand_arithmetic_forms():
    assert expand("${i / 2}", {"i": 10}) == 5.0
    assert expand("${(i + 3) * 2}", {"i": 4}) == 14
    assert expand("${10 + 5 * 2}", {}) == 20
    assert expand("${number % 3}", {"number": 10}) == 1
    assert expand("${-5 + 10}", {}) == 5
    assert expand("${age == 30}", {"age": 30}) is True
    assert expand("${age != 25}", {"age": 30}) is True
    assert expand("${i + 1}", {"i": 0.0}) == 1  # integral floats act as ints, as Go substitutes them


def test_expand_recurses_and_expands_keys():
    assert expand({"${prefix}Key": ["$foo", {"n": "${i + 1}"}], "plain": 3}, STATE) == {
        "customKey": ["bar", {"n": 6}], "plain": 3,
    }


def test_text_formats_numbers_like_go():
    assert expand("n=$n", {"n": 1.0}) == "n=1"
    assert expand("n=$n", {"n": 0.5}) == "n=0.5"
    assert expand("b=$b", {"b": False}) == "b=false"


# spec §3.4 "Consequences for conditions": the Intended column (Go's differs where noted)
@pytest.mark.parametrize("text, state, expected", [
    ("i < 3", {"i": 2}, True),
    ("${j > 3}", {"j": 0.0}, False),
    ("len(results) < 4", {"results": [1.0]}, True),
    ("${len(plan) > 0}", {"plan": "abc"}, True),
    ("flag", {"flag": True}, True),
    ("${flag}", {"flag": True}, True),
    ("$flag", {"flag": True}, True),  # Go: false
    ("status == 'done'", {"status": "done"}, True),
    ("missing > 0", {}, False),
    ("missing < 1", {}, True),  # kept from Go: a missing value counts as 0
    ("flag == true", {"flag": False}, False),  # Go: true
    ("!done", {"done": False}, True),  # Go: false
    ("!(a > b)", {"a": 1, "b": 2}, True),
    ("i < 10 || matcher.regexpr(text, '8')", {"i": 12, "text": "value-18"}, True),  # Go: false
    ("matcher.contains(text, 'ab')", {"text": "xab"}, True),  # Go: false
    ("matcher.not_contains(text, 'ab')", {"text": "xab"}, False),
    ("matcher.not_regexpr(text, '^x')", {"text": "xab"}, False),
    ("a > 0 && b > 0", {"a": 1, "b": 1}, True),  # Go: false
    ("${i} < 3", {"i": 2}, True),
    ("x < max_x", {"x": 5, "max_x": 10}, True),  # Go substitutes inside max_x: false
    ("text ~/8/", {"text": "value-18"}, True),  # legacy infix forms, spaces allowed
    ("text !~/9/", {"text": "value-18"}, True),
    ("text /contains/ 'lue'", {"text": "value-18"}, True),
    ("text !/contains/ 'lue'", {"text": "value-18"}, False),
    ("text /not_contains/ 'zz'", {"text": "value-18"}, True),
    ("is nil(x)", {}, True),
    ("is nil(x)", {"x": 1}, False),
    ("len(missing) == 0", {}, True),
    ("a + 'b' == 'xb'", {"a": "x"}, True),
    ("true && !false && nil == null", {}, True),
    ("", {}, True),
])
def test_condition_table(text, state, expected):
    assert condition(text, state) is expected


def test_operator_precedence():
    assert evaluate("1 + 2 * 3 == 7 && 2 > 1 || false", {}) is True
    assert evaluate("-(2 + 3) * 2", {}) == -10
    assert evaluate("7 % 4 + 10 / 4", {}) == 5.5


def test_conditions_on_collections_are_errors():
    with pytest.raises(ExprError, match="gave a list"):
        condition("items", {"items": [1]})


@pytest.mark.parametrize("text, message", [
    ("matcher.unknown(a, b)", "unknown function matcher.unknown"),
    ("len(a, b)", "takes 1 argument"),
    ("1 / 0", "division by zero"),
])
def test_bad_expressions_say_why(text, message):
    with pytest.raises(ExprError, match=message):
        condition(text, {"a": 1, "i": 1})


# spec §3.4 step 5, §3.5: text the grammar cannot parse goes to Go's fallback evaluator, then is
# looked up as a plain path; nothing found is nil, so false (§6.1: not a failure)
@pytest.mark.parametrize("text", ["i <", "(i < 3", "i < 3 3", "a @ b", "status = 'done'"])
def test_unparsable_conditions_are_false(text):
    assert condition(text, {"a": 1, "i": 1, "status": "done"}) is False


def test_the_fallback_looks_the_text_up_as_a_path():
    assert condition("job:1.ok", {"job:1": {"ok": True}}) is True
    assert expand("${x:y}", {"x:y": "v"}) == "v"


def test_the_fallback_evaluator_forms():
    assert condition("~/text 8/", {"text": "value-18"}) is True  # `~/subject pattern/`
    assert condition("~/text 9/", {"text": "value-18"}) is False
    assert evaluate("{i + 1}", {"i": 1}) == 2  # a `{...}` wrapper around an operator expression
    assert expand("${{i}}", {"i": 1}) == ""  # without an operator the wrapper is part of the name


@pytest.mark.parametrize("template, expected", [
    ('echo "[${UNSET_X:-default}]"', 'echo "[]"'),  # bash syntax: nil, so "" (spec §3.2 rule 3a)
    ("mv $F ${F%.txt}.bak", "mv a.txt .bak"),
    ("echo $HOME ${HOME:-/root}", "echo $HOME "),  # an unresolved `$name` stays literal
    ("${UNSET_X:-default}", ""),
])
def test_bash_parameter_syntax_in_text_expands_to_nothing(template, expected):
    assert expand(template, {"F": "a.txt"}) == expected


@pytest.mark.parametrize("template, expected", [
    ("a ${ b ${name} c $name", "a ${ b World c World"),  # after an unmatched ${, ${name} still expands (§3.2 3b)
    ("${name} ${", "World ${"),
    ("cost ${ ${n + 1}", "cost ${ 3"),
])
def test_tokens_after_an_unmatched_brace_still_expand(template, expected):
    assert expand(template, {"name": "World", "n": 2}) == expected


def test_nothing_is_evaluated_as_python():
    # names that would mean something to Python are just missing variables here
    assert evaluate("__import__", {}) is not None and condition("__import__", {}) is False
    with pytest.raises(ExprError):
        evaluate("__import__('os').system('true')", {})

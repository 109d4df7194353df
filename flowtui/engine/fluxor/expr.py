"""The Fluxor expression language as a real grammar: tokenizer, parser and a pure evaluator (never eval).

Used for `when`, `goto.when` and every `${...}`. Go substitutes text and so breaks `&&`, `||`,
`true`/`false`, `!x` and `matcher.*`; this grammar gives the results Fluxor's README and tests
intend (see docs/fluxor.md). Precedence, lowest first: `||`, `&&`, `== !=`,
`< <= > >= ~/re/ /contains/`, `+ -`, `* / %`, unary `! - +`, paths `a.b[0].c`, calls.
Kept from Go: a missing value counts as 0 in `<`/`>`, `+` concatenates strings, `/` gives a
float, `len` of a missing value is 0, `is nil(x)`, and text the grammar cannot parse goes to Go's
fallback evaluator and then a plain path lookup (so bash's `${VAR:-x}` gives nothing, not an error).
"""

import re
from functools import lru_cache

from .values import MISSING, get_key, lookup, split_path, stringify, truthy


class ExprError(ValueError):
    """A malformed or unevaluable expression; `pos` is the offset in the text when known."""

    def __init__(self, message, pos=None):
        super().__init__(message)
        self.pos = pos


class ExprSyntaxError(ExprError):
    """Text the grammar cannot parse: evaluation falls back as Go's does (spec §3.4 step 5)."""


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
  | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<match>!?~/(?:[^/\\]|\\.)*/)
  | (?P<contains>!?/contains/|/not_contains/)
  | (?P<exprstart>\$\{)
  | (?P<root>\$\.)
  | (?P<var>\$?[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\|\||&&|==|!=|<=|>=|[<>+\-*/%()\[\].,!{}])
    """,
    re.VERBOSE,
)
_KEYWORDS = {"true": True, "false": False, "nil": None, "null": None}
FUNCTIONS = ("len", "matcher.contains", "matcher.not_contains", "matcher.regexpr", "matcher.not_regexpr")


def tokenize(text):
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise ExprSyntaxError(f"unexpected character {text[pos]!r} at {pos + 1} in {text!r}", pos)
        kind = match.lastgroup
        if kind != "ws":
            tokens.append((kind, match.group(0), pos))
        pos = match.end()
    tokens.append(("end", "", len(text)))
    return tokens


def _unquote(raw):
    body = raw[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


class _Parser:
    def __init__(self, text):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self, value=None):
        kind, raw, _ = self.tokens[self.i]
        return raw == value if value is not None else (kind, raw)

    def take(self):
        token = self.tokens[self.i]
        self.i += 1
        return token

    def expect(self, value):
        kind, raw, pos = self.take()
        if raw != value:
            found = "the end" if kind == "end" else repr(raw)
            raise ExprSyntaxError(f"expected {value!r} but found {found} at {pos + 1} in {self.text!r}", pos)

    def parse(self):
        node = self.or_()
        kind, raw, pos = self.tokens[self.i]
        if kind != "end":
            raise ExprSyntaxError(f"unexpected {raw!r} at {pos + 1} in {self.text!r}", pos)
        return node

    def or_(self):
        node = self.and_()
        while self.peek("||"):
            self.take()
            node = ("or", node, self.and_())
        return node

    def and_(self):
        node = self.eq()
        while self.peek("&&"):
            self.take()
            node = ("and", node, self.eq())
        return node

    def eq(self):
        node = self.rel()
        while self.peek("==") or self.peek("!="):
            op = self.take()[1]
            node = ("bin", op, node, self.rel())
        return node

    def rel(self):
        node = self.add()
        while True:
            kind, raw = self.peek()
            if raw in ("<", "<=", ">", ">="):
                self.take()
                node = ("bin", raw, node, self.add())
            elif kind == "match":
                self.take()
                negated = raw.startswith("!")
                node = ("match", negated, raw[2 + negated:-1].replace("\\/", "/"), node)
            elif kind == "contains":
                self.take()
                negated = raw.startswith("!") or raw == "/not_contains/"
                node = ("contains", negated, node, self.add())
            else:
                return node

    def add(self):
        node = self.mul()
        while self.peek("+") or self.peek("-"):
            op = self.take()[1]
            node = ("bin", op, node, self.mul())
        return node

    def mul(self):
        node = self.unary()
        while self.peek("*") or self.peek("/") or self.peek("%"):
            op = self.take()[1]
            node = ("bin", op, node, self.unary())
        return node

    def unary(self):
        if self.peek("!") or self.peek("-") or self.peek("+"):
            op = self.take()[1]
            return ("un", op, self.unary())
        return self.postfix()

    def postfix(self):
        kind, raw, pos = self.take()
        if kind == "num":
            node = ("lit", float(raw) if any(c in raw for c in ".eE") else int(raw))
        elif kind == "str":
            node = ("lit", _unquote(raw))
        elif kind == "exprstart":
            node = self.or_()
            self.expect("}")
        elif raw == "(":
            node = self.or_()
            self.expect(")")
        elif kind == "root":
            node = ("path", None, [("key", self._name())])
        elif kind == "var":
            name = raw.lstrip("$")
            if raw[0] != "$" and name in _KEYWORDS:
                return ("lit", _KEYWORDS[name])
            if name == "is" and self.peek("nil"):
                self.take()
                self.expect("(")
                arg = self.or_()
                self.expect(")")
                return ("isnil", arg)
            node = self._name_or_call(name, pos)
        else:
            found = "the end" if kind == "end" else repr(raw)
            raise ExprSyntaxError(f"expected a value but found {found} at {pos + 1} in {self.text!r}", pos)
        return self._steps(node)

    def _name(self):
        kind, raw, pos = self.take()
        if kind != "var" or raw.startswith("$"):
            raise ExprSyntaxError(f"expected a name at {pos + 1} in {self.text!r}", pos)
        return raw

    def _name_or_call(self, name, pos):
        dotted, mark = name, self.i
        while self.peek(".") and self.tokens[self.i + 1][0] == "var":
            dotted += "." + self.tokens[self.i + 1][1]
            self.i += 2
        if self.peek("("):
            if dotted not in FUNCTIONS:
                raise ExprError(f"unknown function {dotted}(): known functions are {', '.join(FUNCTIONS)}", pos)
            self.take()
            args = []
            if not self.peek(")"):
                args.append(self.or_())
                while self.peek(","):
                    self.take()
                    args.append(self.or_())
            self.expect(")")
            wanted = 1 if dotted == "len" else 2
            if len(args) != wanted:
                raise ExprError(f"{dotted}() takes {wanted} argument{'s' * (wanted > 1)}, got {len(args)}", pos)
            return ("call", dotted, args)
        self.i = mark
        return ("path", name, [])

    def _steps(self, node):
        while True:
            if self.peek(".") and self.tokens[self.i + 1][0] == "var":
                self.take()
                step = ("key", self._name())
            elif self.peek("["):
                self.take()
                step = ("index", self.or_())
                self.expect("]")
            else:
                return node
            if node[0] == "path":
                node = ("path", node[1], node[2] + [step])
            else:
                node = ("path", node, [step])


@lru_cache(maxsize=1024)
def parse(text: str):
    """The syntax tree of `text` (cached); ExprSyntaxError when it is malformed, ExprError for an unknown function."""
    return _Parser(text).parse()


def evaluate(text: str, scope: dict):
    """Value of expression `text` in `scope`; MISSING when it names something absent."""
    try:
        tree = parse(text)
    except ExprSyntaxError:
        return _fallback(text, scope)
    return _eval(tree, scope)


_GO_OPERATOR = re.compile(r"[-+*/%<>]|==|!=|&&|\|\|")


def _fallback(text, scope):
    """Go's "method" evaluator for unparsable text (spec §3.4 step 5): a `{...}` wrapper around an
    operator expression, `~/subject pattern/`, else a plain path lookup, which mostly finds nothing
    (nil: "" in text, false in a condition; §6.1 says this is not a failure)."""
    text = text.strip()
    if text.startswith("{") and text.endswith("}") and _GO_OPERATOR.search(text[1:-1]):
        return evaluate(text[1:-1], scope)
    if text.startswith("~/") and text.endswith("/") and len(text) > 3:
        subject, _, pattern = text[2:-1].rpartition(" ")
        value = lookup(scope, split_path(subject) or ())
        try:
            return value not in (None, MISSING) and re.search(pattern, stringify(value)) is not None
        except re.error:
            return False
    return lookup(scope, split_path(text) or ())


def condition(text: str, scope: dict) -> bool:
    """A `when` condition: empty is true; `${...}` around it is allowed; maps and lists are an error."""
    text = text.strip()
    if not text:
        return True
    try:
        return truthy(evaluate(text, scope), f"condition {text!r}")
    except ExprError:
        raise
    except (ValueError, TypeError, ZeroDivisionError, re.error) as exc:
        raise ExprError(f"{text!r}: {exc}") from None


def _eval(node, scope):
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "path":
        return _path(node, scope)
    if kind == "and":
        return truthy(_eval(node[1], scope)) and truthy(_eval(node[2], scope))
    if kind == "or":
        return truthy(_eval(node[1], scope)) or truthy(_eval(node[2], scope))
    if kind == "un":
        value = _eval(node[2], scope)
        if node[1] == "!":
            return not truthy(value)
        number = _number(value)
        if number is MISSING:
            return MISSING
        return -number if node[1] == "-" else number
    if kind == "bin":
        return _binary(node[1], _eval(node[2], scope), _eval(node[3], scope))
    if kind == "match":
        found = re.search(node[2], stringify(_eval(node[3], scope))) is not None
        return found != node[1]
    if kind == "contains":
        haystack, needle = _eval(node[2], scope), _eval(node[3], scope)
        found = _contains(haystack, needle)
        return found != node[1]
    if kind == "isnil":
        return _eval(node[1], scope) in (None, MISSING)
    if kind == "call":
        return _call(node[1], [_eval(arg, scope) for arg in node[2]])
    raise ExprError(f"unknown expression node {kind}")


def _path(node, scope):
    base, steps = node[1], node[2]
    if base is None:
        value = scope
    elif isinstance(base, str):
        value = scope.get(base, MISSING)
    else:
        value = _eval(base, scope)
    for step_kind, step in steps:
        if value is MISSING or value is None:
            return MISSING
        if step_kind == "key":
            value = get_key(value, step)
        else:
            key = _eval(step, scope)
            if isinstance(key, float) and key == int(key):
                key = int(key)
            if isinstance(key, bool) or not isinstance(key, (int, str)):
                return MISSING
            value = get_key(value, key)
    return value


def _number(value):
    """A number for arithmetic: integral floats act as ints (Go substitutes 1.0 as `1`)."""
    if isinstance(value, bool):
        return MISSING
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return _number(float(value)) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            return MISSING
    return MISSING


def _compare_number(value):
    number = _number(value)
    return 0 if number is MISSING else number


def _binary(op, left, right):
    if op == "+" and (isinstance(left, str) or isinstance(right, str)):
        return stringify(left) + stringify(right)
    if op in ("==", "!="):
        equal = _equal(left, right)
        return equal if op == "==" else not equal
    if op in ("<", "<=", ">", ">="):
        if isinstance(left, str) and isinstance(right, str) and (
            _number(left) is MISSING or _number(right) is MISSING
        ):
            a, b = left, right
        else:
            a, b = _compare_number(left), _compare_number(right)
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    a, b = _number(left), _number(right)
    if a is MISSING or b is MISSING:
        return MISSING
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        if b == 0:
            raise ExprError("division by zero")
        return a / b
    if op == "%":
        if b == 0:
            raise ExprError("modulo by zero")
        return a % b if isinstance(a, int) and isinstance(b, int) else float(a % b)
    raise ExprError(f"unknown operator {op}")


def _equal(left, right):
    left = None if left is MISSING else left
    right = None if right is MISSING else right
    numbers = (int, float)
    if isinstance(left, numbers) and isinstance(right, numbers) and not isinstance(left, bool) and not isinstance(right, bool):
        return float(left) == float(right)
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    return left == right


def _contains(haystack, needle):
    if haystack in (None, MISSING, ""):
        return False
    if isinstance(haystack, (list, tuple)):
        return any(_equal(item, needle) for item in haystack)
    if isinstance(haystack, dict):
        return stringify(needle) in haystack
    return stringify(needle) in stringify(haystack)


def _call(name, args):
    if name == "len":
        value = args[0]
        if value in (None, MISSING):
            return 0
        if isinstance(value, (str, list, tuple, dict)):
            return len(value)
        raise ExprError(f"len() of a {type(value).__name__}")
    left, right = args
    if name in ("matcher.contains", "matcher.not_contains"):
        return _contains(left, right) != (name == "matcher.not_contains")
    try:
        found = left not in (None, MISSING, "") and re.search(stringify(right), stringify(left)) is not None
    except re.error as exc:
        raise ExprError(f"{name}(): bad pattern {stringify(right)!r}: {exc}") from None
    return found != (name == "matcher.not_regexpr")

"""Just enough PromQL to evaluate etc/prometheus/pmem-placement.rules.yml against a metrics file.

Instant vector selectors with label matchers (=, !=, =~, !~), ``time()``, numbers, the arithmetic
operators + - * / and the comparison operators == != > < >= <= (as filters), one-to-one vector
matching on all labels but the name: what the rules use, with Prometheus's meaning. Anything else
is a SyntaxError, so a rule that strays beyond it fails its test rather than passing unread.
"""

import re

TOKEN = re.compile(r"\s*(?:(?P<time>time\(\))|(?P<number>\d+(?:\.\d+)?)|(?P<op>==|!=|>=|<=|>|<|\+|-|\*|/)"
                   r"|(?P<selector>[a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?))")
MATCHER = re.compile(r'\s*([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*,?')
SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$")
LABEL = re.compile(r'([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"')
COMPARE = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b, ">": lambda a, b: a > b,
           "<": lambda a, b: a < b, ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b}
ARITH = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b}


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """The samples of a Prometheus text-format file (comments skipped)."""
    out = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = SAMPLE.match(line.strip())
        if match is None:
            raise ValueError(f"not a sample: {line!r}")
        name, labels, value = match.groups()
        out.append((name, dict(LABEL.findall(labels or "")), float(value)))
    return out


def evaluate(expr: str, text: str, now: float) -> dict[frozenset, float]:
    """The instant vector ``expr`` gives at ``now`` (labels -> value); an alert fires per element."""
    tokens = []
    pos = 0
    while pos < len(expr.rstrip()):
        match = TOKEN.match(expr, pos)
        if match is None or match.end() == pos:
            raise SyntaxError(f"not understood at {expr[pos:]!r}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    data = samples(text)
    result = _Parser(tokens, data, now).expression()
    if not isinstance(result, dict):
        raise SyntaxError(f"{expr!r} is a scalar, not a vector")
    return result


class _Parser:
    def __init__(self, tokens, data, now):
        self.tokens, self.data, self.now, self.at = tokens, data, now, 0

    def _peek(self, *ops):
        return self.at < len(self.tokens) and self.tokens[self.at] == ("op", self.tokens[self.at][1]) \
            and self.tokens[self.at][1] in ops

    def expression(self):
        left = self._sum()
        while self._peek(*COMPARE):
            op = self.tokens[self.at][1]
            self.at += 1
            left = _binary(left, self._sum(), COMPARE[op], filter_=True)
        if self.at != len(self.tokens):
            raise SyntaxError(f"unexpected {self.tokens[self.at]}")
        return left

    def _sum(self):
        return self._level(("+", "-"), self._product)

    def _product(self):
        return self._level(("*", "/"), self._operand)

    def _level(self, ops, operand):
        """Left-associative ``operand (op operand)*`` for the arithmetic operators ``ops``."""
        left = operand()
        while self._peek(*ops):
            op = self.tokens[self.at][1]
            self.at += 1
            left = _binary(left, operand(), ARITH[op])
        return left

    def _operand(self):
        kind, text = self.tokens[self.at]
        self.at += 1
        if kind == "time":
            return self.now
        if kind == "number":
            return float(text)
        if kind == "selector":
            return self._select(text)
        raise SyntaxError(f"unexpected {text!r}")

    def _select(self, text):
        name, _, rest = text.partition("{")
        matchers = []
        body = rest.rstrip("}")
        pos = 0
        while pos < len(body):
            match = MATCHER.match(body, pos)
            if match is None:
                raise SyntaxError(f"matcher not understood: {body[pos:]!r}")
            matchers.append(match.groups())
            pos = match.end()
        vector = {}
        for sample_name, labels, value in self.data:
            if sample_name == name and all(_matches(labels.get(k, ""), op, v) for k, op, v in matchers):
                vector[frozenset(labels.items())] = value
        return vector


def _matches(value, op, wanted):
    if op == "=":
        return value == wanted
    if op == "!=":
        return value != wanted
    full = re.fullmatch(wanted, value) is not None
    return full if op == "=~" else not full


def _binary(left, right, fn, filter_=False):
    if not isinstance(left, dict) and not isinstance(right, dict):
        if filter_:
            raise SyntaxError("a comparison of two scalars needs 'bool'")
        return fn(left, right)
    if isinstance(left, dict) and isinstance(right, dict):  # one-to-one on the same labels
        pairs = [(k, left[k], right[k]) for k in left if k in right]
    elif isinstance(left, dict):
        pairs = [(k, v, right) for k, v in left.items()]
    else:
        pairs = [(k, left, v) for k, v in right.items()]
    if filter_:
        return {k: (a if isinstance(left, dict) else b) for k, a, b in pairs if fn(a, b)}
    return {k: fn(a, b) for k, a, b in pairs}

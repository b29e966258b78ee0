"""DynamoDB's expression languages, parsed into small syntax trees (stdlib only).

Grammar (the DynamoDB developer guide's, for the subset this project sends and a little more):

    condition   := disjunct (OR disjunct)*
    disjunct    := conjunct (AND conjunct)*
    conjunct    := NOT conjunct | '(' condition ')' | function | comparison
    comparison  := operand (comparator operand | BETWEEN operand AND operand
                            | IN '(' operand (',' operand)* ')')
    function    := attribute_exists(path) | attribute_not_exists(path) | attribute_type(path, v)
                 | begins_with(path, operand) | contains(path, operand)
    operand     := path | :value | size(path)
    path        := name ('.' name | '[' digits ']')*      name := identifier | #placeholder

    update      := (SET set (',' set)* | REMOVE path (',' path)* | ADD path :v (',' path :v)*
                   | DELETE path :v (',' path :v)*)+        each clause at most once
    set         := path '=' value      value := term (('+' | '-') term)?
    term        := if_not_exists(path, value) | list_append(term, term) | path | :value

    projection  := path (',' path)*

Trees keep placeholders unresolved, so one parse serves every request with the same text
(`parse_*` are cached); `placeholders` lists what a tree refers to, for the unused/undefined checks.
Keywords are case-insensitive; function names are not. An unescaped reserved word used as a name
is an error, as in DynamoDB.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path as FilePath
from typing import NoReturn, TypeVar

T = TypeVar("T")

# ------------------------------------------------------------------------------------ errors


class ExpressionError(Exception):
    """A ValidationException: the message says what DynamoDB would."""


# ------------------------------------------------------------------------------------ trees
@dataclass(frozen=True, slots=True)
class Path:
    elements: tuple[str | int, ...]  # names (identifiers or #placeholders) and list indexes

    @property
    def head(self) -> str:
        first = self.elements[0]
        assert isinstance(first, str)
        return first


@dataclass(frozen=True, slots=True)
class ValueRef:
    name: str  # ":v"


@dataclass(frozen=True, slots=True)
class Size:
    path: Path


@dataclass(frozen=True, slots=True)
class IfNotExists:
    path: Path
    default: Operand


@dataclass(frozen=True, slots=True)
class ListAppend:
    first: Operand
    second: Operand


@dataclass(frozen=True, slots=True)
class Arithmetic:
    operator: str  # "+" | "-"
    left: Operand
    right: Operand


Operand = Path | ValueRef | Size | IfNotExists | ListAppend | Arithmetic


@dataclass(frozen=True, slots=True)
class Compare:
    operator: str  # = <> < <= > >=
    left: Operand
    right: Operand


@dataclass(frozen=True, slots=True)
class Between:
    subject: Operand
    low: Operand
    high: Operand


@dataclass(frozen=True, slots=True)
class In:
    subject: Operand
    options: tuple[Operand, ...]


@dataclass(frozen=True, slots=True)
class Function:
    name: str  # attribute_exists | attribute_not_exists | attribute_type | begins_with | contains
    path: Path
    argument: Operand | None = None


@dataclass(frozen=True, slots=True)
class And:
    left: Condition
    right: Condition


@dataclass(frozen=True, slots=True)
class Or:
    left: Condition
    right: Condition


@dataclass(frozen=True, slots=True)
class Not:
    operand: Condition


Condition = Compare | Between | In | Function | And | Or | Not


@dataclass(frozen=True, slots=True)
class Update:
    sets: tuple[tuple[Path, Operand], ...] = ()
    removes: tuple[Path, ...] = ()
    adds: tuple[tuple[Path, ValueRef], ...] = ()
    deletes: tuple[tuple[Path, ValueRef], ...] = ()


COMPARATORS = ("=", "<>", "<", "<=", ">", ">=")
CONDITION_FUNCTIONS = ("attribute_exists", "attribute_not_exists", "attribute_type", "begins_with",
                       "contains")
UPDATE_CLAUSES = ("SET", "REMOVE", "ADD", "DELETE")

# ------------------------------------------------------------------------------------ lexer
_TOKEN = re.compile(r"""\s*(?:
    (?P<number>\d+)
  | (?P<name>\#[A-Za-z0-9_]+)
  | (?P<value>:[A-Za-z0-9_]+)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct><>|<=|>=|[=<>(),.\[\]+\-])
)""", re.VERBOSE)


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # number | name | value | ident | punct | end
    text: str


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ExpressionError(f"Syntax error; token: \"{text[position:].strip()[:1]}\"")
        kind = match.lastgroup
        assert kind is not None
        tokens.append(Token(kind, match.group(kind)))
        position = match.end()
    tokens.append(Token("end", "<EOF>"))
    return tokens


@cache
def reserved_words() -> frozenset[str]:
    """DynamoDB's reserved words (the developer guide's list): not usable as bare names."""
    text = (FilePath(__file__).parent / "reserved_words.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().upper() for line in text.splitlines() if line.strip())


# ------------------------------------------------------------------------------------ parser
class Parser:
    """Recursive descent over the tokens; one method per rule of the grammar above."""

    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0

    # ---------------------------------------------------------------- token helpers
    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.peek()
        self.index += 1
        return token

    def at_keyword(self, word: str) -> bool:
        token = self.peek()
        return token.kind == "ident" and token.text.upper() == word

    def take_keyword(self, word: str) -> bool:
        if self.at_keyword(word):
            self.index += 1
            return True
        return False

    def at_punct(self, text: str) -> bool:
        token = self.peek()
        return token.kind == "punct" and token.text == text

    def take_punct(self, text: str) -> bool:
        if self.at_punct(text):
            self.index += 1
            return True
        return False

    def expect_punct(self, text: str) -> None:
        if not self.take_punct(text):
            self.fail()

    def at_call(self, names: tuple[str, ...]) -> bool:
        token = self.peek()
        return token.kind == "ident" and token.text in names and self.peek(1).text == "("

    def fail(self) -> NoReturn:
        raise ExpressionError(f"Syntax error; token: \"{self.peek().text}\"")

    def finish(self) -> None:
        if self.peek().kind != "end":
            self.fail()

    # ---------------------------------------------------------------- conditions
    def condition(self) -> Condition:
        left = self.disjunct()
        while self.take_keyword("OR"):
            left = Or(left, self.disjunct())
        return left

    def disjunct(self) -> Condition:
        left = self.conjunct()
        while self.take_keyword("AND"):
            left = And(left, self.conjunct())
        return left

    def conjunct(self) -> Condition:
        if self.take_keyword("NOT"):
            return Not(self.conjunct())
        if self.take_punct("("):
            inner = self.condition()
            self.expect_punct(")")
            return inner
        if self.at_call(CONDITION_FUNCTIONS):
            return self.function()
        return self.comparison()

    def comparison(self) -> Condition:
        subject = self.operand()
        token = self.peek()
        if token.kind == "punct" and token.text in COMPARATORS:
            self.advance()
            return Compare(token.text, subject, self.operand())
        if self.take_keyword("BETWEEN"):
            low = self.operand()
            if not self.take_keyword("AND"):
                self.fail()
            return Between(subject, low, self.operand())
        if self.take_keyword("IN"):
            return In(subject, self.operand_list())
        self.fail()

    def operand_list(self) -> tuple[Operand, ...]:
        self.expect_punct("(")
        options = [self.operand()]
        while self.take_punct(","):
            options.append(self.operand())
        self.expect_punct(")")
        return tuple(options)

    def function(self) -> Function:
        name = self.advance().text
        self.expect_punct("(")
        path = self.path()
        argument: Operand | None = None
        if name in ("attribute_type", "begins_with", "contains"):
            self.expect_punct(",")
            argument = self.operand()
        self.expect_punct(")")
        return Function(name, path, argument)

    def operand(self) -> Operand:
        token = self.peek()
        if token.kind == "value":
            self.advance()
            return ValueRef(token.text)
        if self.at_call(("size",)):
            self.advance()
            self.expect_punct("(")
            path = self.path()
            self.expect_punct(")")
            return Size(path)
        return self.path()

    # ---------------------------------------------------------------- paths
    def path(self) -> Path:
        elements: list[str | int] = [self.name()]
        while True:
            if self.take_punct("."):
                elements.append(self.name())
            elif self.take_punct("["):
                token = self.advance()
                if token.kind != "number":
                    self.fail()
                elements.append(int(token.text))
                self.expect_punct("]")
            else:
                return Path(tuple(elements))

    def name(self) -> str:
        token = self.peek()
        if token.kind == "name":
            return self.advance().text
        if token.kind != "ident":
            self.fail()
        if token.text.upper() in reserved_words():
            raise ExpressionError(
                f"Attribute name is a reserved keyword; reserved keyword: {token.text}")
        return self.advance().text

    def projection(self) -> tuple[Path, ...]:
        return self.listed(self.path)

    # ---------------------------------------------------------------- updates
    def update(self) -> Update:
        clauses: dict[str, Update] = {}
        while self.peek().kind != "end":
            word = self.peek().text.upper()
            if self.peek().kind != "ident" or word not in UPDATE_CLAUSES:
                self.fail()
            self.advance()
            if word in clauses:
                raise ExpressionError(
                    f"The \"{word}\" section can only be used once in an update expression;")
            clauses[word] = self.clause(word)
        if not clauses:
            self.fail()
        return Update(*(next((getattr(c, field) for c in clauses.values() if getattr(c, field)),
                             ()) for field in ("sets", "removes", "adds", "deletes")))

    def clause(self, word: str) -> Update:
        if word == "SET":
            return Update(sets=self.listed(self.set_action))
        if word == "REMOVE":
            return Update(removes=self.listed(self.path))
        if word == "ADD":
            return Update(adds=self.listed(self.value_action))
        return Update(deletes=self.listed(self.value_action))

    def listed(self, action: Callable[[], T]) -> tuple[T, ...]:
        actions = [action()]
        while self.take_punct(","):
            actions.append(action())
        return tuple(actions)

    def set_action(self) -> tuple[Path, Operand]:
        path = self.path()
        self.expect_punct("=")
        return path, self.set_value()

    def set_value(self) -> Operand:
        left = self.term()
        token = self.peek()
        if token.kind == "punct" and token.text in ("+", "-"):
            self.advance()
            return Arithmetic(token.text, left, self.term())
        return left

    def term(self) -> Operand:
        if self.at_call(("if_not_exists",)):
            self.advance()
            self.expect_punct("(")
            path = self.path()
            self.expect_punct(",")
            default = self.set_value()
            self.expect_punct(")")
            return IfNotExists(path, default)
        if self.at_call(("list_append",)):
            self.advance()
            self.expect_punct("(")
            first = self.term()
            self.expect_punct(",")
            second = self.term()
            self.expect_punct(")")
            return ListAppend(first, second)
        token = self.peek()
        if token.kind == "value":
            self.advance()
            return ValueRef(token.text)
        return self.path()

    def value_action(self) -> tuple[Path, ValueRef]:
        path = self.path()
        token = self.advance()
        if token.kind != "value":
            self.fail()
        return path, ValueRef(token.text)


# ------------------------------------------------------------------------------------ entry points
def _parsed(kind: str, text: str) -> object:
    if not text.strip():
        raise ExpressionError(f"Invalid {kind}: The expression can not be empty;")
    parser = Parser(text)
    rule = {"UpdateExpression": parser.update,
            "ProjectionExpression": parser.projection}.get(kind, parser.condition)
    try:
        tree: object = rule()
        parser.finish()
    except ExpressionError as exc:
        raise ExpressionError(f"Invalid {kind}: {exc}") from None
    return tree


@lru_cache(maxsize=4096)
def parse_condition(text: str, kind: str = "ConditionExpression") -> Condition:
    tree = _parsed(kind, text)
    assert isinstance(tree, Compare | Between | In | Function | And | Or | Not)
    return tree


@lru_cache(maxsize=4096)
def parse_update(text: str) -> Update:
    tree = _parsed("UpdateExpression", text)
    assert isinstance(tree, Update)
    return tree


@lru_cache(maxsize=1024)
def parse_projection(text: str) -> tuple[Path, ...]:
    tree = _parsed("ProjectionExpression", text)
    assert isinstance(tree, tuple)
    return tree


# ------------------------------------------------------------------------------------ placeholders
def placeholders(tree: object) -> set[str]:
    """Every #name and :value a tree refers to."""
    found: set[str] = set()
    _collect(tree, found)
    return found


def _collect(node: object, found: set[str]) -> None:
    if isinstance(node, Path):
        found.update(e for e in node.elements if isinstance(e, str) and e.startswith("#"))
    elif isinstance(node, ValueRef):
        found.add(node.name)
    elif isinstance(node, tuple):
        for child in node:
            _collect(child, found)
    elif hasattr(node, "__slots__"):
        for slot in node.__slots__:
            _collect(getattr(node, slot), found)

"""OData system query options as Graph's directory service applies them.

Parses $select, $filter, $search, $orderby, $top, $count and $skiptoken,
evaluates them over plain dicts, and pages results.  Errors are raised as
ODataError carrying Graph's status, code and message (docs/wire.md §3.5, 5.2).
"""

import base64
import datetime
import json
import re
from urllib.parse import unquote_plus

import filters
from schema import COMPLEX, ENUMS, edm_name


class ODataError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def bad_request(message, code="BadRequest"):
    return ODataError(400, code, message)


def unsupported(message):
    return ODataError(400, "Request_UnsupportedQuery", message)


ADVANCED_HINT = ("Operator '%s' is not supported because the required parameters might be "
                 "missing. Try adding $count=true query parameter and ConsistencyLevel:eventual "
                 "header. Refer to https://aka.ms/graph-docs/advanced-queries for more information")
SEARCH_NEEDS_HEADER = ("Request with $search query parameter only works through MSGraph with a "
                       "special request header: 'ConsistencyLevel: eventual'")
SORT_UNSUPPORTED = "Sorting not supported for current query."

SYSTEM_OPTIONS = ("select", "filter", "search", "orderby", "top", "skip", "count", "expand",
                  "skiptoken", "format")


# ==========================================================================
# Query string
# ==========================================================================

class Query:
    """The system query options of one request, by bare lower-case name."""

    def __init__(self, raw):
        self.raw = raw or ""
        self.options = {}
        for part in self.raw.split("&"):
            if not part:
                continue
            name, _, value = part.partition("=")
            name = unquote_plus(name)
            key = name[1:].lower() if name.startswith("$") else name.lower()
            if key not in SYSTEM_OPTIONS:
                if name.startswith("$"):
                    raise bad_request("The query parameter '%s' is not supported." % name)
                continue  # custom query options are passed through and ignored
            if key in self.options:
                raise bad_request("Query option '$%s' was specified more than once, but it must "
                                  "be specified at most once." % key)
            self.options[key] = unquote_plus(value)

    def get(self, key):
        return self.options.get(key)

    def raw_without(self, key):
        """The raw query string minus one option ($ or dollar-less), for nextLinks."""
        kept = []
        for part in self.raw.split("&"):
            name = unquote_plus(part.partition("=")[0]).lower()
            if part and name.lstrip("$") != key:
                kept.append(part)
        return "&".join(kept)


# ==========================================================================
# $select, $top, $count, $orderby, $skiptoken
# ==========================================================================

def parse_select(value, etype):
    """Canonical property names in the order asked, or None when there is no $select."""
    if value is None or value.strip() == "":
        return None
    names = []
    for item in value.split(","):
        item = item.strip()
        if item == "*":
            return list(etype.props)
        canon = etype.lookup(item) if item else None
        if canon is None:
            raise bad_request("Parsing OData Select and Expand failed: Could not find a property "
                              "named '%s' on type '%s'." % (item, etype.qualified))
        if canon not in names:
            names.append(canon)
    return names


def parse_top(value):
    if value is None:
        return None
    if not re.fullmatch(r"\s*\d+\s*", value):
        raise bad_request("Invalid value '%s' for $top query option found. The $top query option "
                          "requires a non-negative integer value." % value)
    top = int(value)
    if not 1 <= top <= 999:
        raise unsupported("Invalid page size specified: '%d'. Must be between 1 and 999 inclusive."
                          % top)
    return top


def parse_count(value):
    if value is None:
        return False
    v = value.strip().lower()
    if v not in ("true", "false"):
        raise bad_request("'%s' is not a valid count option." % value)
    return v == "true"


def parse_orderby(value, etype):
    """[(property, descending)] from 'displayName desc, id'."""
    keys = []
    for item in value.split(","):
        words = item.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise bad_request("Syntax error at position %d in '%s'." % (len(value), value))
        canon = etype.lookup(words[0])
        if canon is None:
            raise bad_request("Could not find a property named '%s' on type '%s'."
                              % (words[0], etype.qualified))
        if canon not in etype.sortable:
            raise unsupported(SORT_UNSUPPORTED)
        keys.append((canon, len(words) == 2 and words[1].lower() == "desc"))
    return keys


def sort_items(items, keys):
    # Stable sorts applied last key first give a multi-key sort; nulls sort last.
    for prop, desc in reversed(keys):
        present = [o for o in items if o.get(prop) is not None]
        missing = [o for o in items if o.get(prop) is None]
        present.sort(key=lambda o: str(o.get(prop)).casefold(), reverse=desc)
        items = present + missing
    return items


_SKIP_PREFIX = "RFNwdAIAAQAAAA"  # looks like Graph's; only the tail carries data


def encode_skiptoken(offset):
    tail = base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")
    return _SKIP_PREFIX + tail


def decode_skiptoken(token):
    try:
        if not token.startswith(_SKIP_PREFIX):
            raise ValueError
        tail = token[len(_SKIP_PREFIX):]
        data = json.loads(base64.urlsafe_b64decode(tail + "=" * (-len(tail) % 4)))
        offset = int(data["o"])
        if offset < 0:
            raise ValueError
        return offset
    except (ValueError, KeyError, TypeError):
        raise bad_request("Invalid $skiptoken value.", "Request_BadRequest") from None


# ==========================================================================
# $filter: tokenizer, recursive-descent parser, evaluator
# ==========================================================================

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$./]*")
_KEYWORDS = {"and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le", "in", "true", "false", "null"}
_COMPARE = {"eq": "Equal", "ne": "NotEqual", "gt": "GreaterThan", "ge": "GreaterThanOrEqual",
            "lt": "LessThan", "le": "LessThanOrEqual"}


class Token:
    def __init__(self, kind, value, pos):
        self.kind = kind      # "(", ")", ",", ":", "str", "num", "guid", "dt", "kw", "ident", "end"
        self.value = value
        self.pos = pos


def tokenize_filter(text):
    tokens, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
        elif c in "(),:":
            tokens.append(Token(c, c, i))
            i += 1
        elif c == "'":
            # OData string literal: a quote inside is written as two quotes.
            j, chars = i + 1, []
            while True:
                if j >= n:
                    raise bad_request("Invalid filter clause: There is an unterminated string "
                                      "literal at position %d in '%s'." % (n, text))
                if text[j] == "'":
                    if j + 1 < n and text[j + 1] == "'":
                        chars.append("'")
                        j += 2
                        continue
                    break
                chars.append(text[j])
                j += 1
            tokens.append(Token("str", "".join(chars), i))
            i = j + 1
        else:
            for kind, pattern in (("guid", _GUID), ("dt", _DATETIME), ("num", _NUMBER)):
                m = pattern.match(text, i)
                if m and (kind != "num" or not _IDENT.match(text, m.end())):
                    if kind == "num":
                        value = float(m.group()) if any(ch in m.group() for ch in ".eE") else int(m.group())
                    else:
                        value = m.group()
                    tokens.append(Token(kind, value, i))
                    i = m.end()
                    break
            else:
                m = _IDENT.match(text, i)
                if not m:
                    raise bad_request("Invalid filter clause: Syntax error: character '%s' is not "
                                      "valid at position %d in '%s'." % (c, i, text))
                word = m.group()
                if word.lower() in _KEYWORDS:
                    tokens.append(Token("kw", word.lower(), i))
                else:
                    tokens.append(Token("ident", word, i))
                i = m.end()
    tokens.append(Token("end", None, n))
    return tokens


class FilterParser:
    """Grammar (lowest precedence first):
         or   := and ('or' and)*
         and  := not ('and' not)*
         not  := 'not' not | cmp
         cmp  := atom [('eq'|'ne'|'gt'|'ge'|'lt'|'le') atom | 'in' '(' literal, ... ')']
         atom := '(' or ')' | literal | ident '(' args ')' | path '/any(' var ':' or ')' | path
    """

    def __init__(self, text):
        self.text = text
        self.tokens = tokenize_filter(text)
        self.i = 0

    def parse(self):
        if self.tokens[0].kind == "end":
            raise self.error(self.tokens[0])
        node = self.parse_or()
        if self.peek().kind != "end":
            raise self.error(self.peek())
        return node

    def error(self, token):
        return bad_request("Invalid filter clause: Syntax error at position %d in '%s'."
                           % (token.pos, self.text))

    def peek(self):
        return self.tokens[self.i]

    def next(self):
        token = self.tokens[self.i]
        self.i += 1
        return token

    def accept_kw(self, word):
        if self.peek().kind == "kw" and self.peek().value == word:
            return self.next()
        return None

    def expect(self, kind):
        token = self.next()
        if token.kind != kind:
            raise self.error(token)
        return token

    def parse_or(self):
        node = self.parse_and()
        while self.accept_kw("or"):
            node = ("or", node, self.parse_and())
        return node

    def parse_and(self):
        node = self.parse_not()
        while self.accept_kw("and"):
            node = ("and", node, self.parse_not())
        return node

    def parse_not(self):
        if self.accept_kw("not"):
            return ("not", self.parse_not())
        return self.parse_cmp()

    def parse_cmp(self):
        left = self.parse_atom()
        token = self.peek()
        if token.kind == "kw" and token.value in _COMPARE:
            self.next()
            return ("cmp", token.value, left, self.parse_atom())
        if token.kind == "kw" and token.value == "in":
            self.next()
            self.expect("(")
            values = [self.parse_literal()]
            while self.peek().kind == ",":
                self.next()
                values.append(self.parse_literal())
            self.expect(")")
            return ("in", left, values)
        return left

    def parse_literal(self):
        token = self.next()
        if token.kind in ("str", "num", "guid", "dt"):
            return ("lit", token.value, token.kind)
        if token.kind == "kw" and token.value in ("true", "false", "null"):
            return ("lit", {"true": True, "false": False, "null": None}[token.value], token.value)
        raise self.error(token)

    def parse_atom(self):
        token = self.peek()
        if token.kind == "(":
            self.next()
            node = self.parse_or()
            self.expect(")")
            return node
        if token.kind == "ident":
            self.next()
            if self.peek().kind != "(":
                return ("prop", token.value, token.pos)
            self.next()
            lowered = token.value.lower()
            if lowered.endswith(("/any", "/all")):
                var = self.expect("ident").value
                self.expect(":")
                body = self.parse_or()
                self.expect(")")
                return ("lambda", lowered[-3:], token.value[:-4], var, body, token.pos)
            args = []
            if self.peek().kind != ")":
                args.append(self.parse_or())
                while self.peek().kind == ",":
                    self.next()
                    args.append(self.parse_or())
            self.expect(")")
            return ("call", token.value, args, token.pos)
        return self.parse_literal()


FUNCTIONS = {"startswith": "startsWith", "endswith": "endsWith", "contains": "contains"}


def parse_filter(text, etype, advanced=False):
    """Parse and type-check a $filter; returns a Filter.  `advanced`: the
    request carries the advanced query parameters (filters.py)."""
    ast = FilterParser(text).parse()
    f = Filter(text, ast, etype, advanced)
    f.check(ast, {})
    return f


class Filter:
    def __init__(self, text, ast, etype, advanced=False):
        self.text = text
        self.ast = ast
        self.etype = etype
        self.advanced = advanced
        self.owners = {}            # lambda variable -> the collection property it ranges over

    # -- validation -------------------------------------------------------

    def unknown(self, name, type_name):
        return bad_request("Invalid filter clause: Could not find a property named '%s' on type "
                           "'%s'." % (name, type_name))

    def prop_type(self, name, lambda_vars):
        """Type code of a property path: a property, a lambda variable, either
        followed by /member of its complex type."""
        head, _, rest = name.partition("/")
        if head in lambda_vars:
            code = lambda_vars[head]
        else:
            canon = self.etype.lookup(head)
            if canon is None:
                raise self.unknown(head, self.etype.qualified)
            code = self.etype.props[canon]
        if not rest:
            return code
        type_name = code.split(":", 1)[-1]
        members = COMPLEX.get(type_name) if code.startswith("obj:") else None
        if not members or rest not in members:
            raise self.unknown(rest, "microsoft.graph." + type_name)
        return members[rest]

    def owner(self, node):
        """The entity property an operand stands for (a lambda variable's
        collection), or None for a literal or an expression."""
        if node[0] != "prop":
            return None
        head = node[1].partition("/")[0]
        return self.owners.get(head) or self.etype.lookup(head)

    def require(self, node, op):
        """Refuse `op` on the property `node` names when Graph does (filters.py)."""
        prop = self.owner(node)
        if prop is None or filters.allows(self.etype.name, prop, op, self.advanced):
            return
        if self.etype.namespace != "microsoft.graph":
            # Emulator wording: the alerts resource documents which properties filter.
            raise bad_request("Invalid filter clause: The property '%s' is not supported in "
                              "$filter on '%s'." % (prop, self.etype.qualified))
        raise unsupported("Unsupported or invalid query filter clause specified for property "
                          "'%s' of resource '%s'." % (prop, self.resource_name()))

    @staticmethod
    def check_enum_literal(code, node):
        """A string compared with an enum property must name one of its members."""
        if code and code.startswith("enum:") and node[0] == "lit" and isinstance(node[1], str):
            members = ENUMS[code[5:]]
            if node[1].casefold() not in (m.casefold() for m in members):
                raise bad_request("Invalid filter clause: The string '%s' is not a valid "
                                  "enumeration type constant." % node[1])

    def operand_type(self, node, lambda_vars):
        kind = node[0]
        if kind == "prop":
            return self.prop_type(node[1], lambda_vars)
        if kind == "lit":
            return {"str": "str", "num": "int" if isinstance(node[1], int) else "float",
                    "guid": "guid", "dt": "dt", "true": "bool", "false": "bool",
                    "null": None}[node[2]]
        self.check(node, lambda_vars)
        return "bool"

    def check(self, node, lambda_vars):
        kind = node[0]
        if kind in ("and", "or"):
            self.check(node[1], lambda_vars)
            self.check(node[2], lambda_vars)
        elif kind == "not":
            self.check(node[1], lambda_vars)
        elif kind == "cmp":
            left = self.operand_type(node[2], lambda_vars)
            right = self.operand_type(node[3], lambda_vars)
            for side, other in ((node[2], node[3]), (node[3], node[2])):
                null = other[0] == "lit" and other[1] is None
                self.require(side, "null" if null else node[1])
            self.check_enum_literal(left, node[3])
            self.check_enum_literal(right, node[2])
            if not compatible(left, right):
                raise bad_request("Invalid filter clause: A binary operator with incompatible "
                                  "types was detected. Found operand types '%s' and '%s' for "
                                  "operator kind '%s'." % (edm_name(left), edm_name(right),
                                                           _COMPARE[node[1]]))
        elif kind == "in":
            code = self.operand_type(node[1], lambda_vars)
            self.require(node[1], "in")
            for literal in node[2]:
                self.check_enum_literal(code, literal)
        elif kind == "call":
            name = node[1].lower()
            if name not in FUNCTIONS:
                raise bad_request("Invalid filter clause: An unknown function with name '%s' was "
                                  "found. This may also be a function import or a key lookup on a "
                                  "navigation property, which is not allowed." % node[1])
            args = node[2]
            if len(args) != 2 or any(self.operand_type(a, lambda_vars) not in ("str", None)
                                     for a in args):
                raise bad_request("Invalid filter clause: No function signature for the function "
                                  "with name '%s' matches the specified arguments." % node[1])
            self.require(args[0], FUNCTIONS[name])
            if name == "contains":
                prop = args[0][1] if args[0][0] == "prop" else node[1]
                raise unsupported("Unsupported or invalid query filter clause specified for "
                                  "property '%s' of resource '%s'." % (prop, self.resource_name()))
        elif kind == "lambda":
            coll = self.prop_type(node[2], lambda_vars)
            if coll not in ("strs", "guids") and not coll.startswith(("objs:", "enums:")):
                raise bad_request("Invalid filter clause: The Any/All query expression can only "
                                  "be applied to a collection.")
            self.require(("prop", node[2]), "any")
            inner = dict(lambda_vars)
            inner[node[3]] = {"strs": "str", "guids": "guid"}.get(coll) or \
                coll.split(":", 1)[0][:-1] + ":" + coll.split(":", 1)[1]
            self.owners[node[3]] = self.owner(("prop", node[2]))
            self.check(node[4], inner)
        elif kind == "prop" and self.prop_type(node[1], lambda_vars) != "bool":
            raise bad_request("Invalid filter clause: The $filter expression must evaluate to a "
                              "single boolean value.")
        elif kind == "lit" and node[2] not in ("true", "false"):
            raise bad_request("Invalid filter clause: The $filter expression must evaluate to a "
                              "single boolean value.")

    def resource_name(self):
        return self.etype.name[0].upper() + self.etype.name[1:]

    # -- advanced-query detection (docs/wire.md §5.2, G-AQ) -----------------

    def advanced_operator(self):
        """The first operator that needs ConsistencyLevel + $count=true, or None."""
        def walk(node):
            kind = node[0]
            if kind == "cmp" and node[1] == "ne":
                return "ne"
            if kind == "not":
                return "not"
            if kind == "call" and node[1].lower() == "endswith":
                return "endsWith"
            for child in node[1:]:
                if isinstance(child, tuple):
                    found = walk(child)
                    if found:
                        return found
                if isinstance(child, list):
                    for item in child:
                        found = isinstance(item, tuple) and walk(item)
                        if found:
                            return found
            return None
        return walk(self.ast)

    # -- evaluation -------------------------------------------------------

    def matches(self, obj):
        return self.eval(self.ast, obj, {}) is True

    def value(self, node, obj, env):
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "prop":
            head, _, rest = node[1].partition("/")
            item = env[head] if head in env else obj.get(self.etype.lookup(head))
            if not rest:
                return item
            return item.get(rest) if isinstance(item, dict) else None
        return self.eval(node, obj, env)

    def eval(self, node, obj, env):
        kind = node[0]
        if kind == "or":
            return self.eval(node[1], obj, env) is True or self.eval(node[2], obj, env) is True
        if kind == "and":
            return self.eval(node[1], obj, env) is True and self.eval(node[2], obj, env) is True
        if kind == "not":
            return not self.eval(node[1], obj, env) is True
        if kind == "cmp":
            return compare(node[1], self.value(node[2], obj, env), self.value(node[3], obj, env))
        if kind == "in":
            left = self.value(node[1], obj, env)
            return any(compare("eq", left, lit[1]) for lit in node[2])
        if kind == "call":
            a, b = (self.value(arg, obj, env) for arg in node[2])
            if not isinstance(a, str) or not isinstance(b, str):
                return False
            if node[1].lower() == "startswith":
                return a.casefold().startswith(b.casefold())
            return a.casefold().endswith(b.casefold())
        if kind == "lambda":
            items = self.value(("prop", node[2], 0), obj, env) or []
            results = (self.eval(node[4], obj, dict(env, **{node[3]: item})) is True for item in items)
            return any(results) if node[1] == "any" else all(results)
        if kind == "prop":
            return self.value(node, obj, env)
        return None


def compatible(a, b):
    if a is None or b is None or a == b:
        return True
    if (a.startswith("enum:") and b == "str") or (b.startswith("enum:") and a == "str"):
        return True                      # an enum property against its member name
    numeric = {"int", "float"}
    if a in numeric and b in numeric:
        return True
    textual = {"str", "guid"}
    if a in textual and b in textual:
        return True
    return False


def _instant(text):
    """A DateTimeOffset literal or stored value as an aware datetime, else None."""
    if not _DATETIME.fullmatch(text):
        return None
    m = re.fullmatch(r"(.*T\d{2}:\d{2}(?::\d{2})?)(\.\d+)?(Z|[+-]\d{2}:\d{2})", text)
    frac = (m.group(2) or "")[:7].ljust(7, "0")[:6] if m.group(2) else ""
    try:
        return datetime.datetime.fromisoformat(
            m.group(1) + ("." + frac.lstrip(".") if frac else "") +
            ("+00:00" if m.group(3) == "Z" else m.group(3)))
    except ValueError:
        return None


def compare(op, a, b):
    if isinstance(a, str) and isinstance(b, str):
        ta, tb = _instant(a), _instant(b)
        if ta is not None and tb is not None:
            a, b = ta, tb                # DateTimeOffset: compare instants, not text
        else:
            # Directory string comparisons are case-insensitive.
            a, b = a.casefold(), b.casefold()
    if op == "eq":
        return a == b
    if op == "ne":
        return a != b
    if a is None or b is None:
        return False
    try:
        return {"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op]
    except TypeError:
        return False


# ==========================================================================
# $search: "property:term" clauses joined by AND / OR / NOT (docs/wire.md §5.2)
# ==========================================================================

def parse_search(text, etype):
    """Returns a predicate over objects."""
    tokens = _tokenize_search(text)
    pos = [0]

    def peek():
        return tokens[pos[0]] if pos[0] < len(tokens) else ("end", None)

    def take():
        pos[0] += 1
        return tokens[pos[0] - 1]

    def parse_or():
        node = parse_and()
        while peek() == ("kw", "OR"):
            take()
            node = ("or", node, parse_and())
        return node

    def parse_and():
        node = parse_unary()
        while peek()[0] in ("kw", "term", "(") and peek() != ("kw", "OR"):
            if peek() == ("kw", "AND"):
                take()
            node = ("and", node, parse_unary())
        return node

    def parse_unary():
        kind, value = take() if pos[0] < len(tokens) else ("end", None)
        if (kind, value) == ("kw", "NOT"):
            return ("not", parse_unary())
        if kind == "(":
            node = parse_or()
            if take()[0] != ")":
                raise bad_request("Syntax error at position %d in '%s'." % (len(text), text))
            return node
        if kind == "term":
            return ("term",) + _search_clause(value, etype)
        raise bad_request("Syntax error at position %d in '%s'." % (len(text), text))

    ast = parse_or()
    if pos[0] != len(tokens):
        raise bad_request("Syntax error at position %d in '%s'." % (len(text), text))
    return lambda obj: _search_eval(ast, obj)


def _tokenize_search(text):
    # ODL's search lexer: quoted phrases; unquoted words may hold letters only.
    tokens, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "()":
            tokens.append((c, c))
            i += 1
        elif c == '"':
            j, chars = i + 1, []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                chars.append(text[j])
                j += 1
            if j >= n:
                raise bad_request("Syntax error at position %d in '%s'." % (n, text))
            tokens.append(("term", "".join(chars)))
            i = j + 1
        elif c.isalpha():
            j = i
            while j < n and text[j].isalpha():
                j += 1
            word = text[i:j]
            if j < n and not (text[j].isspace() or text[j] in '()"'):
                raise bad_request("Syntax error: character '%s' is not valid at position %d in "
                                  "'%s'." % (text[j], j, text))
            tokens.append(("kw", word) if word in ("AND", "OR", "NOT") else ("term", word))
            i = j
        else:
            raise bad_request("Syntax error: character '%s' is not valid at position %d in '%s'."
                              % (c, i, text))
    return tokens


def _search_clause(phrase, etype):
    prop, sep, term = phrase.partition(":")
    if not sep or not prop.strip():
        # Directory objects only support "property:term" (emulator wording).
        raise unsupported("Search term '%s' is not supported: the directory supports $search only "
                          "as \"property:term\", e.g. \"displayName:%s\"." % (phrase, phrase))
    canon = etype.lookup(prop.strip())
    if canon is None or canon not in etype.searchable:
        raise unsupported("Unsupported or invalid search property '%s' for resource '%s'."
                          % (prop.strip(), etype.name))
    return canon, _words(term)


def _words(text):
    # Tokenized search: split on non-alphanumerics and lower/upper case changes.
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text or "")
    return [w.casefold() for w in re.split(r"[^\w]+|_", text) if w]


def _search_eval(node, obj):
    kind = node[0]
    if kind == "or":
        return _search_eval(node[1], obj) or _search_eval(node[2], obj)
    if kind == "and":
        return _search_eval(node[1], obj) and _search_eval(node[2], obj)
    if kind == "not":
        return not _search_eval(node[1], obj)
    _, prop, terms = node
    words = _words(obj.get(prop) if isinstance(obj.get(prop), str) else "")
    return all(any(w.startswith(t) for w in words) for t in terms)


# ==========================================================================
# Projection
# ==========================================================================

def project(obj, names, type_annotation=None):
    """A response object with the given properties, in order, nulls kept."""
    out = {}
    if type_annotation:
        out["@odata.type"] = "#microsoft.graph." + type_annotation
    for name in names:
        if name in obj:
            out[name] = obj[name]
    return out


"""`ducorig portcheck [PATH ...]`: check that device code uses nothing the
MicroPython ESP8266 port lacks.

Tests on the MicroPython unix port cannot catch these: the unix build has
features the ESP8266 build disables (str.partition, binascii.crc32,
random.randint, ...), see MicroPython's ports/esp8266/mpconfigport.h and
extmod/modrandom.c. The check is static (stdlib `ast`, no types), so
the method-name rules flag a call of that name on anything; a deliberate,
guarded use is allowed by a comment on the finding's line:

    h = base.copy()  # portcheck: ok guarded by hasattr(base, "copy")

Every rule is data in the tables below; the visitor only knows the node shapes.
"""
from __future__ import annotations

import argparse
import ast
import io
import re
import sys
import tokenize
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PATH = "lib"
DESCRIPTION = "check that device code uses nothing the MicroPython ESP8266 port lacks"


@dataclass(frozen=True)
class Finding:
    filename: str
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}: {self.rule}: {self.message}"


# rule id -> what it catches (for --rules and the tests' coverage check)
RULES: dict[str, str] = {
    "missing-module": "import of a module the ESP8266 build does not have",
    "asyncio-name": "asyncio name MicroPython's asyncio does not have",
    "random-name": "random function other than getrandbits/seed (disabled on ESP8266)",
    "math-name": "math name disabled on ESP8266 (constants, isclose, special functions)",
    "binascii-name": "binascii function disabled on ESP8266 (crc32)",
    "esp8266-method": "str/bytes method disabled on ESP8266 (partition, splitlines, center)",
    "missing-method": "method no MicroPython build has (format_map, ljust, bit_length, ...)",
    "bytes-hex": "bytes.hex()/bytes.fromhex() (not reliably enabled on ESP8266)",
    "keyword-argument": "keyword argument a MicroPython builtin rejects (byteorder=, maxsplit=, ...)",
    "missing-builtin": "builtin name MicroPython lacks (TimeoutError, ConnectionResetError, format, ...)",
    "not-implemented": "NotImplemented (disabled on ESP8266)",
    "dynamic-code": "compile/exec/eval/execfile",
    "complex-number": "complex literal or complex() (disabled on ESP8266)",
    "module-file": "__file__ (disabled on ESP8266)",
    "pow-3-arg": "three-argument pow() (disabled on ESP8266)",
    "match-statement": "match statement",
    "except-star": "except* (exception groups)",
    "positional-only": "positional-only parameters ('/')",
    "async-generator": "async def containing yield",
    "async-comprehension": "async for or await inside a comprehension",
    "exception-chaining": "raise ... from ...",
    "fstring-ascii": "f-string !a conversion",
    "slots": "__slots__ (ignored by MicroPython)",
    "special-method": "special method MicroPython ignores or disables (__setattr__, __del__, ...)",
    "class-keyword": "class keyword arguments (metaclass=...)",
    "starred-display": "* or ** unpacking inside a list/tuple/set/dict display",
    "escape-reason": "'# portcheck: ok' without a reason",
    "unused-escape": "'# portcheck: ok' on a line with no finding",
    "syntax-error": "source that does not parse",
}

# --- imports -----------------------------------------------------------------

_THREADS = "use asyncio tasks (the ESP8266 has no threads)"
_TYPING = "leave annotations out, or use builtin names only (MicroPython does not evaluate them)"
_PATHS = "use string paths joined with '/' and os.stat()/os.listdir()"

# module (or dotted prefix) -> what to use instead
_MISSING_MODULES: dict[str, str] = {
    "typing": _TYPING,
    "typing_extensions": _TYPING,
    "__future__": "drop it (MicroPython never evaluates annotations)",
    "dataclasses": "write a plain class with __init__",
    "enum": "use module-level int constants",
    "abc": "use a plain base class whose methods raise NotImplementedError",
    "logging": "use print() or a small level-gated log function",
    "traceback": "use sys.print_exception(e) (shim it on CPython)",
    "functools": "use a closure or a small helper",
    "itertools": "use plain loops, range() and zip()",
    "contextlib": "use try/finally or a class with __enter__/__exit__",
    "copy": "copy explicitly: list(x), dict(x), bytes(b)",
    "threading": _THREADS,
    "_thread": _THREADS,
    "multiprocessing": _THREADS,
    "concurrent": _THREADS,
    "queue": "use a small preallocated ring buffer",
    "socketserver": "use asyncio.start_server()",
    "pathlib": _PATHS,
    "os.path": _PATHS,
    "cmath": "complex numbers are disabled on ESP8266: work with pairs of floats",
}

# module -> (rule, the names the ESP8266 build has, what to use instead).
# Allow-lists, because the ESP8266 modules are small and fixed.
_MODULE_NAMES: dict[str, tuple[str, frozenset[str], str]] = {
    "asyncio": ("asyncio-name", frozenset({
        "CancelledError", "TimeoutError", "Task", "Loop", "Event", "Lock", "ThreadSafeFlag",
        "StreamReader", "StreamWriter", "create_task", "current_task", "gather",
        "get_event_loop", "new_event_loop", "open_connection", "start_server", "run",
        "run_until_complete", "sleep", "sleep_ms", "wait_for", "wait_for_ms",
    }), "MicroPython's asyncio has only tasks, sleep, gather, wait_for, Event, Lock, "
        "ThreadSafeFlag and streams: write a small helper (a preallocated ring buffer for a queue)"),
    "random": ("random-name", frozenset({"getrandbits", "seed"}),
               "only getrandbits() and seed() exist on ESP8266: derive values from "
               "random.getrandbits(n), e.g. getrandbits(16) % span"),
    "math": ("math-name", frozenset({
        "e", "pi", "sqrt", "pow", "exp", "log", "cos", "sin", "tan", "acos", "asin", "atan",
        "atan2", "ceil", "copysign", "fabs", "floor", "fmod", "frexp", "ldexp", "modf",
        "isfinite", "isinf", "isnan", "trunc", "radians", "degrees",
    }), "the ESP8266 math module has no inf/nan/tau, isclose, factorial, log2/log10, "
        "hyperbolic or special functions: use float('inf'), abs(a - b) <= tol, or compute it"),
    "binascii": ("binascii-name", frozenset({"hexlify", "unhexlify", "a2b_base64", "b2a_base64"}),
                 "crc32 is disabled on ESP8266: write a small CRC in Python over a bytearray"),
}

# --- calls and names -----------------------------------------------------------

_PAD = "format with '%-10s' / '%10s' % s"
_CASE = "use upper()/lower() and slicing"
_CHAR_TEST = "use isalpha()/isdigit() or a character test"
_AFFIX = "use startswith()/endswith() and slicing"

# rule -> why its methods fail, for the message
_METHOD_STATUS: dict[str, str] = {
    "esp8266-method": "is disabled on ESP8266",
    "missing-method": "does not exist on MicroPython",
    "bytes-hex": "is not reliably enabled on ESP8266",
}

# method name -> (rule, what to use instead); flagged when called on anything
_METHODS: dict[str, tuple[str, str]] = {
    "partition": ("esp8266-method", "use find() and slicing, or split(sep, 1)"),
    "rpartition": ("esp8266-method", "use rfind() and slicing, or rsplit(sep, 1)"),
    "splitlines": ("esp8266-method", "use split('\\n') (and strip '\\r')"),
    "center": ("esp8266-method", "pad by hand: ' ' * n + s"),
    "format_map": ("missing-method", "use format(**mapping) or '%(name)s' % mapping"),
    "ljust": ("missing-method", _PAD),
    "rjust": ("missing-method", _PAD),
    "zfill": ("missing-method", "format with '%05d' % n"),
    "removeprefix": ("missing-method", _AFFIX),
    "removesuffix": ("missing-method", _AFFIX),
    "capitalize": ("missing-method", _CASE),
    "title": ("missing-method", _CASE),
    "swapcase": ("missing-method", _CASE),
    "casefold": ("missing-method", _CASE),
    "expandtabs": ("missing-method", "use replace('\\t', ' ' * n)"),
    "isalnum": ("missing-method", _CHAR_TEST),
    "isascii": ("missing-method", _CHAR_TEST),
    "isdecimal": ("missing-method", _CHAR_TEST),
    "isnumeric": ("missing-method", _CHAR_TEST),
    "isidentifier": ("missing-method", _CHAR_TEST),
    "isprintable": ("missing-method", _CHAR_TEST),
    "istitle": ("missing-method", _CHAR_TEST),
    "translate": ("missing-method", "use replace() or a loop"),
    "maketrans": ("missing-method", "use replace() or a loop"),
    "bit_length": ("missing-method", "count with a shift loop"),
    "bit_count": ("missing-method", "count with a shift loop"),
    "is_integer": ("missing-method", "compare x == int(x)"),
    "hex": ("bytes-hex", "use binascii.hexlify(b).decode()"),
    "fromhex": ("bytes-hex", "use binascii.unhexlify(s)"),
}


def _positionally(example: str) -> str:
    return "pass it positionally, e.g. " + example


_JSON_KEYWORDS = frozenset({"indent", "sort_keys", "ensure_ascii", "default", "cls", "skipkeys",
                            "allow_nan", "check_circular"})

# callee ("name" for a builtin, ".name" for a method) -> (the keywords it rejects, None
# for all, what to do instead)
_KEYWORDS: dict[str, tuple[frozenset[str] | None, str]] = {
    ".from_bytes": (None, _positionally("int.from_bytes(b, 'big') (there is no signed=)")),
    ".to_bytes": (frozenset({"length", "byteorder"}), _positionally("n.to_bytes(4, 'big')")),
    ".split": (frozenset({"sep", "maxsplit"}), _positionally("s.split(',', 1)")),
    ".rsplit": (frozenset({"sep", "maxsplit"}), _positionally("s.rsplit(',', 1)")),
    ".encode": (frozenset({"encoding", "errors"}), _positionally("s.encode('utf-8')")),
    ".decode": (frozenset({"encoding", "errors"}), _positionally("b.decode('utf-8')")),
    ".dumps": (_JSON_KEYWORDS, "MicroPython's json takes only separators="),
    ".dump": (_JSON_KEYWORDS, "MicroPython's json takes only separators="),
    "str": (frozenset({"encoding", "errors"}), _positionally("str(b, 'utf-8')")),
    "int": (frozenset({"base"}), _positionally("int(s, 16)")),
    "round": (frozenset({"ndigits"}), _positionally("round(x, 2)")),
    "sum": (frozenset({"start"}), _positionally("sum(items, start)")),
    "zip": (frozenset({"strict"}), "check the lengths yourself"),
    "print": (frozenset({"flush"}), "drop it (MicroPython's print takes sep, end and file)"),
}


def _disabled(rule: str, hint: str) -> tuple[str, str]:
    return rule, "is disabled on ESP8266: " + hint


def _not_builtin(hint: str) -> tuple[str, str]:
    return "missing-builtin", "is not a MicroPython builtin: " + hint


_EVAL = "compiles at run time, which the ESP8266 heap cannot afford: parse the input yourself"

# builtin name -> (rule, why and what to use instead); not flagged where the module
# binds the name
_BUILTINS: dict[str, tuple[str, str]] = {
    "NotImplemented": _disabled("not-implemented", "return False or raise TypeError"),
    "__file__": _disabled("module-file", "pass paths explicitly"),
    "compile": _disabled("dynamic-code", "parse the input yourself"),
    "execfile": _disabled("dynamic-code", "import the module instead"),
    "eval": ("dynamic-code", _EVAL),
    "exec": ("dynamic-code", _EVAL),
    "complex": _disabled("complex-number", "use pairs of floats"),
    "TimeoutError": _not_builtin("catch asyncio.TimeoutError"),
    **dict.fromkeys((
        "BlockingIOError", "BrokenPipeError", "ChildProcessError", "ConnectionAbortedError",
        "ConnectionError", "ConnectionRefusedError", "ConnectionResetError", "EnvironmentError",
        "FileExistsError", "FileNotFoundError", "IOError", "InterruptedError", "IsADirectoryError",
        "NotADirectoryError", "PermissionError", "ProcessLookupError",
    ), _not_builtin("catch OSError and test e.errno (errno.ECONNRESET, ...)")),
    **dict.fromkeys(("UnicodeDecodeError", "UnicodeEncodeError", "UnicodeTranslateError"),
                    _not_builtin("catch UnicodeError")),
    "RecursionError": _not_builtin("catch RuntimeError"),
    "ModuleNotFoundError": _not_builtin("catch ImportError"),
    **dict.fromkeys((
        "BufferError", "FloatingPointError", "ReferenceError", "SystemError", "TabError",
        "UnboundLocalError", "ExceptionGroup", "BaseExceptionGroup",
    ), _not_builtin("catch a base class (Exception, NameError, ...)")),
    **dict.fromkeys((
        "Warning", "UserWarning", "DeprecationWarning", "PendingDeprecationWarning",
        "RuntimeWarning", "SyntaxWarning", "FutureWarning", "ImportWarning", "UnicodeWarning",
        "BytesWarning", "ResourceWarning", "EncodingWarning",
    ), _not_builtin("MicroPython has no warnings: print a message")),
    "ascii": _not_builtin("use repr()"),
    "format": _not_builtin("use '{:x}'.format(v) or % formatting"),
    "vars": _not_builtin("use obj.__dict__"),
    "aiter": _not_builtin("use async for, or call __aiter__() directly"),
    "anext": _not_builtin("call __anext__() directly"),
    "breakpoint": _not_builtin("remove it"),
    "exit": _not_builtin("use sys.exit()"),
    "quit": _not_builtin("use sys.exit()"),
}

# --- classes and syntax --------------------------------------------------------

_NEVER_CALLED = "is never called by MicroPython"

# special method defined in a class body -> why and what to do instead
_SPECIAL_METHODS: dict[str, str] = {
    "__setattr__": "is disabled on ESP8266: set attributes explicitly or through a method",
    "__delattr__": "is disabled on ESP8266: delete attributes explicitly or through a method",
    "__getattribute__": _NEVER_CALLED + ": use __getattr__ (called for missing attributes)",
    "__del__": _NEVER_CALLED + " (no finalisers for Python classes): close resources explicitly",
    "__init_subclass__": _NEVER_CALLED + ": register subclasses explicitly",
    "__class_getitem__": "is not supported by MicroPython: drop it",
}

# statement type -> (rule, message) for constructs MicroPython rejects wherever they appear
_NODE_RULES: dict[type[ast.stmt], tuple[str, str]] = {
    ast.Match: ("match-statement", "MicroPython has no match statement: use if/elif"),
}
if hasattr(ast, "TryStar"):  # Python >= 3.11 parses except*
    _NODE_RULES[ast.TryStar] = ("except-star", "MicroPython has no exception groups: use plain except")

_MESSAGES: dict[str, str] = {
    "positional-only": "MicroPython has no positional-only parameters: drop the '/'",
    "async-generator": "MicroPython has no async generators (no __aiter__): return a list, "
                       "or write a class with __aiter__/__anext__",
    "async-comprehension": "MicroPython cannot await or async-for inside a comprehension: write a for loop",
    "exception-chaining": "MicroPython drops the cause (with a warning): raise without 'from' "
                          "and put the cause in the message",
    "fstring-ascii": "MicroPython f-strings have no !a conversion: use !r",
    "slots": "MicroPython ignores __slots__ (instances still take any attribute): drop it",
    "class-keyword": "MicroPython classes take no keyword arguments (metaclass=...): use a plain class",
    "starred-display": "MicroPython cannot unpack with * or ** inside a display: "
                       "build it with list(a) + b, or dict(d) and update()",
    "pow-3-arg": "three-argument pow() is disabled on ESP8266: use a square-and-multiply loop with % m",
    "escape-reason": "'# portcheck: ok' needs a reason, e.g. '# portcheck: ok guarded by hasattr'",
    "unused-escape": "no finding on this line: remove the '# portcheck: ok' comment",
}

_ESCAPE = re.compile(r"#\s*portcheck:\s*ok\b(.*)")
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_Comprehension = ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp


def _canonical(module: str) -> str:
    """`uasyncio` -> `asyncio`: MicroPython's old u-prefixed names are the same modules."""
    return module[1:] if module.startswith("u") and module[1:] in _MODULE_NAMES else module


def _missing_module(module: str) -> str | None:
    """The table key that makes `module` (or a package it is in) missing, if any."""
    parts = module.split(".")
    for i in range(1, len(parts) + 1):
        prefix = ".".join(parts[:i])
        if prefix in _MISSING_MODULES:
            return prefix
    return None


def _module_aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> module, for names bound by `import m` / `import m as n`."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.name if alias.asname else alias.name.split(".")[0]
                aliases[alias.asname or name] = _canonical(name)
    return aliases


def _bound_names(tree: ast.AST) -> set[str]:
    """Every name the module binds anywhere: such a name no longer means the builtin."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound


def _own_scope(node: ast.AST, scopes: tuple[type[ast.AST], ...]) -> Iterator[ast.AST]:
    """The nodes under `node` that are not inside a nested scope of those types."""
    for child in ast.iter_child_nodes(node):
        yield child
        if not isinstance(child, scopes):
            yield from _own_scope(child, scopes)


def _assigned_names(stmt: ast.stmt) -> list[str]:
    """The plain names a class-body assignment binds."""
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
        targets = [stmt.target]
    else:
        return []
    return [t.id for t in targets if isinstance(t, ast.Name)]


class _Checker(ast.NodeVisitor):
    def __init__(self, filename: str, tree: ast.AST) -> None:
        self.filename = filename
        self.modules = _module_aliases(tree)
        self.bound = _bound_names(tree)
        self.findings: list[Finding] = []

    def report(self, line: int, rule: str, message: str) -> None:
        self.findings.append(Finding(self.filename, line, rule, message))

    def visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.stmt) and type(node) in _NODE_RULES:
            self.report(node.lineno, *_NODE_RULES[type(node)])
        super().visit(node)

    def _is_builtin(self, name: str) -> bool:
        return name not in self.bound

    # imports and module attributes

    def _check_module(self, line: int, module: str) -> bool:
        """Report `module` if it is missing; True if it was."""
        key = _missing_module(module)
        if key is not None:
            self.report(line, "missing-module",
                        f"module '{key}' is missing on MicroPython/ESP8266: {_MISSING_MODULES[key]}")
        return key is not None

    def _check_module_name(self, line: int, module: str, name: str) -> None:
        if module in _MODULE_NAMES:
            rule, names, hint = _MODULE_NAMES[module]
            if name not in names:
                self.report(line, rule, f"'{module}.{name}' is not on the ESP8266 port: {hint}")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._check_module(node.lineno, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level or node.module is None:  # relative: our own package
            return
        if self._check_module(node.lineno, node.module):
            return
        for alias in node.names:
            # `from os import path` imports a module; `from random import randint` a name
            if not self._check_module(node.lineno, f"{node.module}.{alias.name}"):
                self._check_module_name(node.lineno, _canonical(node.module), alias.name)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.value, ast.Name) and node.value.id in self.modules:
            self._check_module_name(node.end_lineno or node.lineno, self.modules[node.value.id], node.attr)
        self.generic_visit(node)

    # calls and names

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute):
            callee, line = "." + func.attr, func.end_lineno or node.lineno
            if func.attr in _METHODS:
                rule, hint = _METHODS[func.attr]
                self.report(line, rule, f".{func.attr}() {_METHOD_STATUS[rule]}: {hint}")
        elif isinstance(func, ast.Name) and self._is_builtin(func.id):
            callee, line = func.id, node.lineno
            if func.id == "pow" and (len(node.args) == 3 or any(k.arg == "mod" for k in node.keywords)):
                self.report(line, "pow-3-arg", _MESSAGES["pow-3-arg"])
        else:
            callee, line = "", node.lineno
        if callee in _KEYWORDS:
            rejected, hint = _KEYWORDS[callee]
            for kw in node.keywords:
                if kw.arg is not None and (rejected is None or kw.arg in rejected):
                    self.report(kw.lineno, "keyword-argument",
                                f"{callee.lstrip('.')}() takes no {kw.arg}= keyword on MicroPython: {hint}")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load) and node.id in _BUILTINS and self._is_builtin(node.id):
            rule, hint = _BUILTINS[node.id]
            self.report(node.lineno, rule, f"'{node.id}' {hint}")

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, complex):
            rule, hint = _BUILTINS["complex"]
            self.report(node.lineno, rule, f"complex literal {node.value!r} {hint}")

    # functions, classes and syntax

    def _check_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        if node.args.posonlyargs:
            self.report(node.lineno, "positional-only", _MESSAGES["positional-only"])
        self.generic_visit(node)

    visit_FunctionDef = visit_Lambda = _check_function

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        if any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in _own_scope(node, _SCOPES)):
            self.report(node.lineno, "async-generator", _MESSAGES["async-generator"])
        self._check_function(node)

    def _check_comprehension(self, node: _Comprehension) -> None:
        # The first iterable is evaluated by the enclosing scope, so it may await;
        # a nested comprehension reports its own awaits.
        outer = {id(n) for n in ast.walk(node.generators[0].iter)}
        if any(g.is_async for g in node.generators) or any(
                isinstance(n, ast.Await) and id(n) not in outer
                for n in _own_scope(node, _SCOPES + _COMPREHENSIONS)):
            self.report(node.lineno, "async-comprehension", _MESSAGES["async-comprehension"])
        self.generic_visit(node)

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _check_comprehension

    def visit_Raise(self, node: ast.Raise) -> None:
        if node.cause is not None:
            self.report(node.lineno, "exception-chaining", _MESSAGES["exception-chaining"])
        self.generic_visit(node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> None:
        if node.conversion == ord("a"):
            self.report(node.lineno, "fstring-ascii", _MESSAGES["fstring-ascii"])
        self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if node.keywords:
            self.report(node.lineno, "class-keyword", _MESSAGES["class-keyword"])
        for stmt in node.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name in _SPECIAL_METHODS:
                self.report(stmt.lineno, "special-method", f"{stmt.name} {_SPECIAL_METHODS[stmt.name]}")
            if "__slots__" in _assigned_names(stmt):
                self.report(stmt.lineno, "slots", _MESSAGES["slots"])
        self.generic_visit(node)

    def _check_display(self, node: ast.List | ast.Tuple | ast.Set) -> None:
        # A starred target (`a, *b = x`) is fine; only building a value is not.
        building = isinstance(node, ast.Set) or isinstance(node.ctx, ast.Load)
        if building and any(isinstance(e, ast.Starred) for e in node.elts):
            self.report(node.lineno, "starred-display", _MESSAGES["starred-display"])
        self.generic_visit(node)

    visit_List = visit_Tuple = visit_Set = _check_display

    def visit_Dict(self, node: ast.Dict) -> None:
        if None in node.keys:
            self.report(node.lineno, "starred-display", _MESSAGES["starred-display"])
        self.generic_visit(node)


def _escapes(source: str) -> dict[int, str]:
    """Line -> reason ('' when missing) of each '# portcheck: ok' comment."""
    escapes: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            match = _ESCAPE.search(tok.string)
            if match:
                escapes[tok.start[0]] = match.group(1).strip()
    return escapes


def check_source(source: str, filename: str) -> list[Finding]:
    """The findings for one module's source, sorted by line."""
    try:
        tree = ast.parse(source, filename)
    except SyntaxError as e:
        return [Finding(filename, e.lineno or 1, "syntax-error", f"does not parse ({e.msg}): fix it first")]
    checker = _Checker(filename, tree)
    checker.visit(tree)
    escapes = _escapes(source)
    findings = [f for f in checker.findings if not escapes.get(f.line)]
    flagged = {f.line for f in checker.findings}
    for line, reason in escapes.items():
        if not reason:
            findings.append(Finding(filename, line, "escape-reason", _MESSAGES["escape-reason"]))
        elif line not in flagged:
            findings.append(Finding(filename, line, "unused-escape", _MESSAGES["unused-escape"]))
    return sorted(findings, key=lambda f: (f.line, f.rule, f.message))


def _python_files(root: Path) -> list[Path]:
    return [root] if root.is_file() else sorted(root.rglob("*.py"))


def _check_files(paths: list[Path]) -> list[Finding]:
    return [f for path in paths for f in check_source(path.read_text(encoding="utf-8"), str(path))]


def check_tree(root: Path) -> list[Finding]:
    """The findings for every .py file under root (or root itself if it is a file)."""
    return _check_files(_python_files(root))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH", default=[DEFAULT_PATH],
                        help=f"files or directories to check (default: {DEFAULT_PATH})")
    parser.add_argument("--rules", action="store_true", help="list the rules and exit")


def run(args: argparse.Namespace) -> int:
    if args.rules:
        for rule, text in RULES.items():
            print(f"{rule:20} {text}")
        return 0
    roots = [Path(p) for p in args.paths]
    missing = [str(r) for r in roots if not r.exists()]
    if missing:
        print(f"portcheck: no such file or directory: {', '.join(missing)}", file=sys.stderr)
        return 2
    files = [p for r in roots for p in _python_files(r)]
    findings = _check_files(files)
    for finding in findings:
        print(finding)
    bad_files = len({f.filename for f in findings})
    if findings:
        print(f"portcheck: {len(findings)} finding(s) in {bad_files} of {len(files)} file(s)")
        return 1
    print(f"portcheck: {len(files)} file(s), nothing the ESP8266 port lacks")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ducorig portcheck", description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

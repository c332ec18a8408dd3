"""Policies as code: each `Policy`'s condition compiled once with CEL, then evaluated over
the facts of every product in scope (`quanta.governance.facts`).

A condition is CEL and only CEL: no text of a policy reaches Python's eval, exec or a
template. It is compiled with ``product`` bound (and ``port``, ``column`` for policies
``each: port`` and ``each: column``), type-checked, and must give a bool. The functions it
may call beyond CEL's own and the strings extension (``trim()``, ``lowerAscii()``,
``split()``...) come from the entry point group ``quanta.policy_functions``: each entry is a
`PolicyFunction`. The built-in ``semver(string)`` comes the same way (`quanta.registry`).

Evaluating a product converts its facts to CEL once and runs one expression: the list of
every policy's result. A policy on ports or columns is a comprehension over
``product.ports`` (and their columns) that gives the names of those it fails on. Only when
that list is an error (some policy could not be evaluated) are the policies run one by one,
so that each says for itself.

Cost: CEL has no unbounded loops, so an evaluation costs at most the size of the facts to
the power of the depth of the comprehensions nested in the condition. The facts are
bounded: a product whose lists (ports, columns, inputs, grants, tags, members, service
levels) hold more than `MAX_FACT_ITEMS` items together is not evaluated, and each policy
reports that as its error. Any exception of an evaluation is caught and becomes that
policy's error on that product: one product never stops the evaluation of the mesh.
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

from cel_expr_python import cel  # type: ignore[import-untyped]
from cel_expr_python.ext import ext_strings  # type: ignore[import-untyped]
from pydantic import TypeAdapter

from quanta.errors import ConfigError
from quanta.model.governance import Compliance, Finding, Policy, RolloutState

FUNCTIONS_GROUP = "quanta.policy_functions"
MAX_FACT_ITEMS = 10_000
_FINDINGS = TypeAdapter(tuple[Finding, ...])

_TYPES: dict[str, tuple[cel.Type, type | tuple[type, ...]]] = {
    "bool": (cel.Type.BOOL, bool),
    "int": (cel.Type.INT, int),
    "double": (cel.Type.DOUBLE, float),
    "string": (cel.Type.STRING, str),
    "list": (cel.Type.List(cel.Type.DYN), list),
    "map": (cel.Type.Map(cel.Type.STRING, cel.Type.DYN), dict),
}
_FUNCTION_NAME = re.compile(r"[a-z][A-Za-z0-9_]{0,63}")
_VARIABLES = {
    "product": ("product",),
    "port": ("product", "port"),
    "column": ("product", "port", "column"),
}


@dataclass(frozen=True)
class PolicyFunction:
    """A function conditions may call, e.g. ``semver(string) -> bool``.

    Types are named as CEL names them: ``bool``, ``int``, ``double``, ``string``, ``list``,
    ``map``. ``call`` gets plain Python values and returns one of the return type; what it
    raises becomes the policy's error on that product, without its message (it may hold
    the facts it was given).
    """

    name: str
    parameters: tuple[str, ...]
    returns: str
    call: Callable[..., Any]

    def __post_init__(self) -> None:
        if not _FUNCTION_NAME.fullmatch(self.name):
            raise ValueError(f"policy function name {self.name!r} is not a CEL identifier")
        for kind in (*self.parameters, self.returns):
            if kind not in _TYPES:
                raise ValueError(
                    f"policy function {self.name}: unknown type {kind!r}: use one of "
                    f"{', '.join(_TYPES)}"
                )

    def declaration(self) -> cel.FunctionDecl:
        overload = cel.Overload(
            f"quanta_{self.name}_{'_'.join(self.parameters)}",
            return_type=_TYPES[self.returns][0],
            parameters=[_TYPES[kind][0] for kind in self.parameters],
            impl=self._guarded,
        )
        return cel.FunctionDecl(self.name, [overload])

    def _guarded(self, *arguments: Any) -> Any:
        try:
            result = self.call(*arguments)
        except Exception as error:
            raise RuntimeError(f"function {self.name} failed ({type(error).__name__})") from None
        expected = _TYPES[self.returns][1]
        if not isinstance(result, expected) or (isinstance(result, bool) != (expected is bool)):
            raise RuntimeError(
                f"function {self.name} returned {type(result).__name__}, not {self.returns}"
            )
        return result


_SEMVER = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")


def _is_semver(text: str) -> bool:
    return _SEMVER.fullmatch(text) is not None


SEMVER = PolicyFunction("semver", ("string",), "bool", _is_semver)
"""``semver(text)``: whether ``text`` is a version MAJOR.MINOR.PATCH, such as 1.4.0."""


def installed_functions() -> tuple[PolicyFunction, ...]:
    """The built-in policy functions and every installed plugin's."""
    from quanta.registry import available, load

    found = []
    for name in sorted(available(FUNCTIONS_GROUP)):
        try:
            function = load(FUNCTIONS_GROUP, name)
        except Exception as error:  # a plugin's import: anything can go wrong in it
            raise ConfigError(
                f"the {FUNCTIONS_GROUP} entry {name!r} cannot be loaded "
                f"({type(error).__name__}: {_first(error)}): fix or uninstall its plugin"
            ) from None
        if not isinstance(function, PolicyFunction) or function.name != name:
            raise ConfigError(
                f"the {FUNCTIONS_GROUP} entry {name!r} is not a PolicyFunction named {name!r}: "
                "fix the plugin that provides it"
            )
        found.append(function)
    return tuple(found)


# -- compiling ------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CompiledPolicy:
    policy: Policy
    each: str
    expression: cel.Expression
    """Over ``product``: a bool, or the names failing (a list; of lists for columns)."""
    domains: frozenset[str] | None
    kinds: frozenset[str] | None
    products: frozenset[str] | None
    levels: frozenset[str] | None
    scoped: bool
    """Whether domains, kinds or products limit the scope."""
    finding: dict[str, Any]
    """The fields of its findings that are the policy's."""

    def concerns(self, facts: Mapping[str, Any]) -> bool:
        """Whether the product is in the domains, kinds and products of the scope (its
        classifications are for the caller to look at: they cost a walk of the columns)."""
        return (
            (self.domains is None or facts["domain"] in self.domains)
            and (self.kinds is None or facts["kind"] in self.kinds)
            and (self.products is None or facts["id"] in self.products)
        )


@dataclass(frozen=True)
class CompiledPolicies:
    """Policies ready to evaluate, and the CEL environment their expressions share."""

    compiled: tuple[CompiledPolicy, ...]
    environment: cel.Env
    every: cel.Expression | None
    """The list of every policy's result, in order (None: no policies)."""

    @property
    def policies(self) -> tuple[Policy, ...]:
        return tuple(item.policy for item in self.compiled)

    @property
    def column_keys(self) -> frozenset[str]:
        """The keys of a column's facts that some condition reads (``column.concept``, or
        ``c.concept`` in ``p.columns.all(c, ...)``): the facts need hold no other. Every key
        where a condition reaches columns otherwise (an index, a function given a column)."""
        from quanta.governance.facts import COLUMN_KEYS

        read = {"name", "classification"}  # what evaluating and scoping need
        for item in self.compiled:
            code = _LITERAL.sub('""', item.policy.condition)
            names = set(_OVER_COLUMNS.findall(code)) | (
                {"column"} if item.each == "column" else set()
            )
            reaching = len(re.findall(r"\bcolumns\b", code))
            if reaching != len(_OVER_COLUMNS.findall(code)) + len(_COLUMNS_SIZE.findall(code)):
                return COLUMN_KEYS
            for name in names:
                read.update(re.findall(rf"\b{name}\s*\.\s*([A-Za-z_]\w*)", code))
        return COLUMN_KEYS & read

    def evaluate(self, facts: Mapping[str, Any], day: date) -> tuple[Finding, ...]:
        """Every policy whose scope holds the product, over its facts, on ``day``: one
        finding each, whether it holds or not."""
        return _FINDINGS.validate_python(_findings(self, facts, _states(self, day)))

    def evaluate_mesh(self, products: Iterable[Mapping[str, Any]], day: date) -> Compliance:
        """Every policy over every product in its scope, on ``day``."""
        states = _states(self, day)
        with _collector_paused():
            rows = [row for facts in products for row in _findings(self, facts, states)]
            findings = _FINDINGS.validate_python(rows)
        return Compliance(day=day, policies=self.policies, findings=findings)


def compile_policies(
    policies: Sequence[Policy], functions: Sequence[PolicyFunction] | None = None
) -> CompiledPolicies:
    """Compile every condition; ConfigError names the policy's ``file:line`` and what CEL
    found wrong. ``functions``: by default `installed_functions`."""
    functions = installed_functions() if functions is None else functions
    environments = {each: _environment(names, functions) for each, names in _VARIABLES.items()}
    compiled, texts = [], []
    for policy in policies:
        checked = _compile(environments[policy.each], policy.condition, policy)
        kind = checked.return_type()
        if kind != cel.Type.BOOL and kind != cel.Type.DYN:
            raise ConfigError(
                f"{_where(policy)} gives {kind.name().lower()}, not true or false: "
                'write a test, e.g. product.owner != ""'
            )
        text = policy.condition if policy.each == "product" else _over_product(policy)
        texts.append(text)
        scope = policy.scope
        compiled.append(
            CompiledPolicy(
                policy=policy,
                each=policy.each,
                expression=_compile(environments["product"], text, policy),
                domains=_set(scope.domains),
                kinds=_set(scope.kinds),
                products=_set(scope.products),
                levels=_set(scope.classifications),
                scoped=any(v is not None for v in (scope.domains, scope.kinds, scope.products)),
                finding={
                    "policy": policy.id,
                    "severity": policy.severity,
                    "until": policy.rollout.until,
                    "message": f"{policy.title}: {policy.fix}",
                },
            )
        )
    product = environments["product"]
    return CompiledPolicies(tuple(compiled), product, _every_result(product, texts))


def _every_result(environment: cel.Env, texts: Sequence[str]) -> cel.Expression | None:
    """One expression giving every policy's result; None (each runs alone) for no policy,
    or for more than CEL compiles at once."""
    # Each text compiled alone, so each is one whole expression: safe inside brackets.
    every = "[" + ",".join(f"(\n{text}\n)" for text in texts) + "]"
    try:
        return environment.compile(every) if texts else None
    except RuntimeError:
        return None


def _environment(variables: Sequence[str], functions: Sequence[PolicyFunction]) -> cel.Env:
    names = [function.name for function in functions]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ConfigError(f"policy function {twice[0]!r} is declared twice: keep one")
    try:
        return cel.NewEnv(
            variables=dict.fromkeys(variables, cel.Type.DYN),
            functions=[function.declaration() for function in functions],
            extensions=[ext_strings.ExtStrings()],
        )
    except RuntimeError as error:
        raise ConfigError(
            f"the policy functions {', '.join(names)} cannot be declared ({_first(error)}): "
            "rename the one that clashes with a CEL function"
        ) from None


def _over_product(policy: Policy) -> str:
    """The condition as a comprehension over the product's ports or columns, giving the
    names of those it fails on. The condition compiled alone, so it is one whole
    expression; the line breaks end any comment at its end."""
    negated = f"!(\n{policy.condition}\n)"
    if policy.each == "port":
        return f"product.ports.filter(port, {negated}).map(port, port.name)"
    levels = policy.scope.classifications
    # The levels are known classifications (the model checks them): safe as a CEL literal.
    guard = f"column.classification in {json.dumps(sorted(levels))} && " if levels else ""
    return (
        f"product.ports.map(port, port.columns.filter(column, {guard}{negated})"
        ".map(column, port.name + '.' + column.name))"
    )


_LITERAL = re.compile(r"""'''.*?'''|\"\"\".*?\"\"\"|'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*\"""", re.S)
_OVER_COLUMNS = re.compile(
    r"\bcolumns\s*\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_]\w*)\s*,"
)
_COLUMNS_SIZE = re.compile(r"\bcolumns\s*\.\s*size\s*\(\s*\)|\bsize\s*\([^()]*\bcolumns\s*\)")
_GROWING = re.compile(r"\b(replace|format|join|quote)\s*\(")
_MACRO = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(")
MAX_NESTING = 2
"""Comprehensions within comprehensions: a product's ports and their columns need two. A
port policy runs within one already, a column policy within two."""
_WRAPPED = {"product": 0, "port": 1, "column": 2}


def _bounded(policy: Policy) -> None:
    """Refuse a condition whose cost is not bounded by the facts' size: functions that make
    text grow (nested, they double it at each call) and comprehensions nested deeper than
    `MAX_NESTING` (each level multiplies the iterations by a list's length)."""
    code = _LITERAL.sub('""', policy.condition)
    growing = _GROWING.search(code)
    if growing:
        raise ConfigError(
            f"{_where(policy)} calls {growing.group(1)}(), which makes text grow without "
            "bound: a condition compares facts, it does not build text"
        )
    macros = {match.end() - 1 for match in _MACRO.finditer(code)}
    depth, deepest, opened = 0, 0, []
    for index, character in enumerate(code):
        if character == "(":
            opened.append(index in macros)
            depth += index in macros
            deepest = max(deepest, depth)
        elif character == ")" and opened:
            depth -= opened.pop()
    most = MAX_NESTING - _WRAPPED[policy.each]
    if deepest > most:
        raise ConfigError(
            f"{_where(policy)} nests {deepest} comprehensions (all, exists, map, filter): "
            f"a condition over each {policy.each} may nest at most {most} (with the "
            f"{policy.each}s themselves, {MAX_NESTING}, enough for each column of each port)"
        )


def _compile(environment: cel.Env, text: str, policy: Policy) -> cel.Expression:
    _bounded(policy)
    try:
        return environment.compile(text)
    except RuntimeError as error:
        raise ConfigError(
            f"{_where(policy)} does not compile: {_compile_problem(error)}: correct the "
            f"condition (each: {policy.each} gives it {', '.join(_VARIABLES[policy.each])})"
        ) from None


_CEL_ERROR = re.compile(r"ERROR: <input>:(\d+):(\d+): (.*)")


def _compile_problem(error: RuntimeError) -> str:
    found = _CEL_ERROR.search(str(error))
    if found is None:
        return _first(error)
    line, column, problem = found.groups()
    problem = problem.removesuffix(" (in container '')")
    return f"{problem} (line {line}, column {column} of the condition)"


def _where(policy: Policy) -> str:
    where = f"{policy.source}: " if policy.source else ""
    return f"{where}the condition of policy {policy.id!r}"


def _set(values: list[str] | None) -> frozenset[str] | None:
    return None if values is None else frozenset(values)


def _first(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


# -- evaluating -----------------------------------------------------------------------------

Outcome = tuple[bool, tuple[str, ...], str | None]
"""Whether a policy holds on a product, what fails, and why it could not be evaluated."""


def _states(rules: CompiledPolicies, day: date) -> list[RolloutState]:
    return [item.policy.rollout.state_on(day) for item in rules.compiled]


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector off while a mesh is evaluated. The findings hold no cycles,
    yet each of the collector's full runs walks every product's facts: 10,000 products
    took 0.5 s longer with it on."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _findings(
    rules: CompiledPolicies, facts: Mapping[str, Any], states: Sequence[RolloutState]
) -> list[dict[str, Any]]:
    """The findings on one product, as the fields of each: validated all at once (one
    call of pydantic for a whole mesh, not one a finding)."""
    found: list[dict[str, Any]] = []
    product, domain = str(facts.get("id", "")), str(facts.get("domain", ""))
    too_large = _size_problem(facts)
    levels: frozenset[str] | None = None
    activation: cel.Activation | None = None
    results: list[Any] | None = None
    for index, (item, state) in enumerate(zip(rules.compiled, states, strict=True)):
        outcome: Outcome | None = None
        try:
            if item.scoped and not item.concerns(facts):
                continue
            if item.levels is not None:
                levels = _levels(facts) if levels is None else levels
                if item.levels.isdisjoint(levels):
                    continue
            if too_large is not None:
                outcome = (False, (), too_large)
            else:
                if activation is None:
                    activation = rules.environment.Activation({"product": facts})
                    results = _every(rules, activation)
                if results is not None:
                    outcome = _outcome(item, results[index])
                outcome = outcome or _run(item, activation)
        except Exception as raised:
            outcome = (False, (), _raised(raised))
        holds, failing, error = outcome
        found.append(
            {
                **item.finding,
                "product": product,
                "domain": domain,
                "state": state,
                "holds": holds,
                "failing": failing,
                "error": error,
            }
        )
    return found


def _every(rules: CompiledPolicies, activation: cel.Activation) -> list[Any] | None:
    """Every policy's result at once; None when one of them is an error (CEL's lists hold
    no errors: the whole list is one)."""
    if rules.every is None:
        return None
    try:
        results = rules.every.eval(activation).plain_value()
    except Exception:
        return None
    return results if isinstance(results, list) else None


_HOLDS: Outcome = (True, (), None)
_FAILS: Outcome = (False, (), None)


def _outcome(item: CompiledPolicy, result: Any) -> Outcome | None:
    """What a result says; None for one that is not a result (an error, a non-bool)."""
    each = item.each
    if result is True or result is False:
        return (_HOLDS if result else _FAILS) if each == "product" else None
    if each == "product" or not isinstance(result, list):
        return None
    if each == "port":
        failing = tuple(f"port {name}" for name in result)
    elif not any(result):
        return _HOLDS
    else:
        failing = tuple(f"column {name}" for names in result for name in names)
    return not failing, failing, None


def _run(item: CompiledPolicy, activation: cel.Activation) -> Outcome:
    """The policy alone, saying why it could not be evaluated."""
    try:
        value = item.expression.eval(activation)
        # An error's value is its message: only a bool, or a list, is a result.
        outcome = _outcome(item, value.plain_value())
        if outcome is not None:
            return outcome
        kind = value.type()
        if kind == cel.Type.ERROR:
            return False, (), _evaluation_error(str(value.value()), item.policy.condition)
        return False, (), f"the condition gives {kind.name().lower()}, not true or false"
    except Exception as raised:
        return False, (), _raised(raised)


def _raised(error: Exception) -> str:
    # Only the type: the message of an exception may hold the facts.
    return f"the policy could not be evaluated ({type(error).__name__})"


_QUOTED = re.compile(r'"([^"]*)"|\'([^\']*)\'')
_NUMBER = re.compile(r"\b[0-9]+(?:\.[0-9]+)?\b")
_STATUS = re.compile(r"^[A-Z_]+: ")
_FIXED = {
    "No matching overloads found : !_": "a value that is not true or false where one is needed",
    "Non-CEL value type": "a fact has a type CEL does not know (a fault of the platform)",
    "Integer value": "a number of the facts is out of CEL's range",
}


def _evaluation_error(message: str, condition: str) -> str:
    """CEL's message without what came from the facts: a quoted text or a number is kept
    only when the condition itself spells it (a key it names, an index it writes)."""
    text = _STATUS.sub("", (message.strip().splitlines() or ["unknown error"])[0])
    fixed = next((said for start, said in _FIXED.items() if text.startswith(start)), None)
    if fixed is not None:
        text = fixed
    elif text.startswith("invalid regular expression"):
        text = "invalid regular expression"  # what follows quotes the pattern
    else:
        text = _QUOTED.sub(lambda m: m[0] if (m[1] or m[2] or "") in condition else '"…"', text)
        text = _NUMBER.sub(lambda m: m[0] if m[0] in condition else "…", text)
    return f"the condition could not be evaluated: {text}"


def _size_problem(facts: Mapping[str, Any]) -> str | None:
    ports = facts.get("ports") or ()
    items = len(ports) + sum(
        len(facts.get(key) or ()) for key in ("inputs", "grants", "tags", "members")
    )
    for port in ports:
        items += len(port.get("columns") or ()) + len(port.get("service_levels") or ())
    if items <= MAX_FACT_ITEMS:
        return None
    return (
        f"the product's facts hold {items:,} items (ports, columns, inputs...), over the "
        f"limit of {MAX_FACT_ITEMS:,}: policies are not evaluated on it; split the product"
    )


def _levels(facts: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(
        column.get("classification", "")
        for port in facts.get("ports") or ()
        for column in port.get("columns") or ()
    )

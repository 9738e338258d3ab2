"""Control rules (SWMM [CONTROLS]) as data: read from an .inp section, written back (controller.py runs them).

A rule is `RULE name / IF premise / AND|OR premise ... / THEN action / AND action ... / ELSE action ...
/ PRIORITY p`. Premises compare a variable (NODE DEPTH, LINK FLOW, PUMP STATUS, GAGE INTENSITY,
SIMULATION TIME ...) with a value or with another variable; actions set a pump's STATUS or SETTING,
an orifice's or weir's SETTING (open fraction) or a conduit's STATUS. Semantics as SWMM 5.2 (User's
Manual §C "Control Rules"; controls.c): premises are read left to right, an OR joins the clause to the
running result and an AND ends the rule false as soon as the result is false (so `A OR B AND C` is
`(A OR B) AND C`); a true rule queues its THEN actions, a false one its ELSE actions; for one link the
queued action of the rule with the strictly higher PRIORITY wins, on a tie the earlier rule (no PRIORITY
is 0); an action is taken only when it changes the link's setting. Rules are evaluated at the end of every
routing step (or every RULE_STEP), on the state the next step starts from, after the pumps' own
start-up / shut-off depths have switched them; `=` / `<>` on a time hold within half a step of it.

Values are held in SI (m, m3, m3/s, m/s, s); `parse_controls` converts from the file's units and
`format_controls` writes them back in them. A SETTING may follow a CURVE, a TIMESERIES or a PID
controller; a premise may name a VARIABLE or an EXPRESSION (SWMM 5.2). What is not simulated
(past-rain premises) keeps its rule's text for export and is named in a warning: that
rule is not evaluated.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from .model import StormwaterInputError
from .model import canonical_name as _canon

KEYWORDS = ("RULE", "IF", "AND", "OR", "THEN", "ELSE", "PRIORITY")
OPERATORS = ("=", "<>", "<", "<=", ">", ">=")
LINK_OBJECTS = ("LINK", "CONDUIT", "PUMP", "ORIFICE", "WEIR", "OUTLET")
NODE_ATTRIBUTES = ("DEPTH", "MAXDEPTH", "HEAD", "VOLUME", "INFLOW")
LINK_ATTRIBUTES = ("FLOW", "DEPTH", "STATUS", "SETTING", "FULLFLOW", "FULLDEPTH", "LENGTH", "SLOPE",
                   "TIMEOPEN", "TIMECLOSED")
TIME_ATTRIBUTES = ("TIME", "DATE", "CLOCKTIME", "DAY", "MONTH", "DAYOFYEAR")
STATUS_WORDS = {"ON": 1.0, "OFF": 0.0, "OPEN": 1.0, "CLOSED": 0.0}


class ControlRuleUnsupported(Exception):
    """A clause the engine does not simulate (the message names it)."""


@dataclass(frozen=True, kw_only=True)
class Variable:
    """`object name attribute` of a premise (SIMULATION variables have no name), or a named EXPRESSION
    (SWMM 5.2): `formula` over named variables `terms` (name, variable, SI per file unit), in file units."""

    obj: str          # NODE | LINK | CONDUIT | PUMP | ORIFICE | WEIR | GAGE | SIMULATION | EXPRESSION
    name: str
    attribute: str
    formula: str = ""
    terms: tuple = ()


@dataclass(frozen=True, kw_only=True)
class Premise:
    """`variable relation value|variable`; value in SI: m, m3, m3/s, m/s (rain), s (times), 0/1 (status),
    day ordinal (DATE), 1-7 Sunday first (DAY), 1-12 (MONTH), 1-366 (DAYOFYEAR)."""

    join: str         # IF | AND | OR
    lhs: Variable
    relation: str     # = <> < <= > >=
    value: float | None = None
    rhs: Variable | None = None
    lhs_unit: float = field(default=1.0, compare=False)   # SI per file unit of lhs (a CURVE setting reads it so)


@dataclass(frozen=True, kw_only=True)
class Action:
    """`object name STATUS|SETTING = value` (STATUS as 1 on/open, 0 off/closed), or a modulated SETTING:
    `= CURVE c` (c's y at the value, in file units, of the rule's last premise read) or `= TIMESERIES s`
    (s's value now)."""

    obj: str          # PUMP | ORIFICE | WEIR | OUTLET | CONDUIT
    name: str
    attribute: str    # STATUS | SETTING
    value: float = 0.0
    curve: str = ""
    series: str = ""
    pid: tuple[float, ...] = ()   # SETTING = PID kp ki kd (ki, kd in minutes)


@dataclass(frozen=True, kw_only=True)
class Rule:
    """One control rule. `unsupported` names what keeps it from being simulated; its text is then kept."""

    name: str
    premises: tuple[Premise, ...] = ()
    then_actions: tuple[Action, ...] = ()
    else_actions: tuple[Action, ...] = ()
    priority: float = 0.0
    unsupported: str = ""
    text: tuple[str, ...] = field(default=(), compare=False)   # lines as read (written back when unsupported)


@dataclass
class Controls:
    """The [CONTROLS] section: its rules in order, plus lines kept as read (VARIABLE / EXPRESSION)."""

    rules: list[Rule] = field(default_factory=list)
    kept_lines: list[str] = field(default_factory=list)

    @property
    def active(self) -> list[Rule]:
        return [r for r in self.rules if not r.unsupported]


# ---------------------------------------------------------------------------- parsing


def _clauses(lines: list[str], split) -> list[tuple[str, list[str], str]]:
    """(keyword, tokens, raw line) for each clause; a line holds one clause (SWMM refuses two)."""
    out = []
    for raw in lines:
        tokens = split(raw)
        if not tokens:
            continue
        out.append((tokens[0].upper(), tokens, raw))
    return out


def parse_controls(lines: list[str], model, units, source: str, split) -> tuple[Controls, list[str]]:
    """Rules of a [CONTROLS] section (`lines` as read); returns them and warnings naming the rules
    (and clauses) kept but not simulated. Errors (StormwaterInputError) name the rule and clause."""
    controls = Controls()
    messages: list[str] = []
    current: dict | None = None
    state = ""
    named: dict[str, Variable | None] = {}   # VARIABLE / EXPRESSION (SWMM 5.2) by upper-case name; None: unsupported

    def close():
        if current is None:
            return
        if not current["premises"] and not current["unsupported"]:
            raise StormwaterInputError(f"{source} [CONTROLS] rule {current['name']}: no IF clause")
        if not current["then"] and not current["unsupported"]:
            raise StormwaterInputError(f"{source} [CONTROLS] rule {current['name']}: no THEN clause")
        rule = Rule(name=current["name"], premises=tuple(current["premises"]), then_actions=tuple(current["then"]),
                    else_actions=tuple(current["else"]), priority=current["priority"],
                    unsupported=current["unsupported"], text=tuple(current["text"]))
        if rule.unsupported:
            messages.append(f"[CONTROLS] rule {rule.name}: {rule.unsupported}; the rule is kept but not simulated")
        controls.rules.append(rule)

    for key, tokens, raw in _clauses(lines, split):
        if key in ("VARIABLE", "EXPRESSION"):
            controls.kept_lines.append(raw.strip())
            where = f"{source} [CONTROLS] {' '.join(tokens)!r}"
            if len(tokens) < 4 or tokens[2] != "=":
                raise StormwaterInputError(f"{where}: expected {key} name = ...")
            try:
                named[tokens[1].upper()] = (_named_variable(tokens[3:], model, where, named, units)
                                            if key == "VARIABLE" else
                                            _expression(tokens[1], tokens[3:], named, where, units))
            except ControlRuleUnsupported as exc:
                named[tokens[1].upper()] = None
                messages.append(f"[CONTROLS] {key} {tokens[1]}: {exc}; rules using it are not simulated")
            continue
        if key == "RULE":
            close()
            if len(tokens) != 2:
                raise StormwaterInputError(f"{source} [CONTROLS] {raw.strip()!r}: expected RULE name")
            current = {"name": tokens[1], "premises": [], "then": [], "else": [], "priority": 0.0,
                       "unsupported": "", "text": [raw.rstrip()]}
            state = "RULE"
            continue
        if current is None:
            raise StormwaterInputError(f"{source} [CONTROLS] {raw.strip()!r}: clause before the first RULE")
        current["text"].append(raw.rstrip())
        where = f"{source} [CONTROLS] rule {current['name']}, clause {' '.join(tokens)!r}"
        if key not in KEYWORDS:
            raise StormwaterInputError(f"{where}: expected one of {', '.join(KEYWORDS)}")
        try:
            if key == "IF" and state == "RULE" or key in ("AND", "OR") and state == "IF":
                state = "IF"
                current["premises"].append(_premise(key, tokens[1:], model, units, where, named))
            elif key == "THEN" and state == "IF" or key == "AND" and state == "THEN":
                state = "THEN"
                current["then"].append(_action(tokens[1:], model, where))
            elif key == "ELSE" and state == "THEN" or key == "AND" and state == "ELSE":
                state = "ELSE"
                current["else"].append(_action(tokens[1:], model, where))
            elif key == "PRIORITY" and state in ("THEN", "ELSE"):
                state = "PRIORITY"
                if len(tokens) != 2:
                    raise StormwaterInputError(f"{where}: expected PRIORITY value")
                current["priority"] = _number(tokens[1], where)
            else:
                raise StormwaterInputError(f"{where}: {key} cannot follow {state or 'the start'} "
                                           f"(order: RULE, IF, AND/OR, THEN, AND, ELSE, AND, PRIORITY)")
        except ControlRuleUnsupported as exc:
            if not current["unsupported"]:
                current["unsupported"] = f"clause {' '.join(tokens)!r}: {exc}"
            if key in ("IF", "AND", "OR") and state in ("RULE", "IF"):
                state = "IF"
            elif key in ("THEN", "ELSE"):
                state = key
    close()
    return controls, messages


def _number(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise StormwaterInputError(f"{where}: {text!r} is not a number") from None


def _named_variable(tokens: list[str], model, where: str, named: dict, units) -> Variable:
    var, n = _variable(tokens, model, where, named)
    if n != len(tokens) or var.obj == "EXPRESSION":
        raise StormwaterInputError(f"{where}: expected object name attribute (or SIMULATION attribute)")
    return var


MATH_FUNCTIONS = {"COS": math.cos, "SIN": math.sin, "TAN": math.tan, "COT": lambda x: 1.0 / math.tan(x),
                  "ABS": abs, "SGN": lambda x: float((x > 0) - (x < 0)), "SQRT": math.sqrt, "LOG": math.log,
                  "EXP": math.exp, "ASIN": math.asin, "ACOS": math.acos, "ATAN": math.atan,
                  "ACOT": lambda x: math.pi / 2 - math.atan(x), "SINH": math.sinh, "COSH": math.cosh,
                  "TANH": math.tanh, "COTH": lambda x: 1.0 / math.tanh(x), "LOG10": math.log10,
                  "STEP": lambda x: 1.0 if x > 0 else 0.0}


def _expression(name: str, tokens: list[str], named: dict, where: str, units) -> Variable:
    """A named math expression (SWMM 5.2 mathexpr: + - * / ^, functions) over named variables."""
    import ast

    text = " ".join(tokens).upper().replace("^", "**")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise StormwaterInputError(f"{where}: cannot read the expression {' '.join(tokens)!r}") from None
    terms = {}
    allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub,
               ast.UAdd, ast.Constant, ast.Name, ast.Load, ast.Call)
    for node in ast.walk(tree):
        if not isinstance(node, allowed) or isinstance(node, ast.Constant) and not isinstance(node.value, (int, float)):
            raise StormwaterInputError(f"{where}: {type(node).__name__} is not allowed in an expression")
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in MATH_FUNCTIONS
                                               and len(node.args) == 1 and not node.keywords):
            raise StormwaterInputError(f"{where}: unknown function in {' '.join(tokens)!r}")
        if isinstance(node, ast.Name) and node.id not in MATH_FUNCTIONS:
            if node.id not in named:
                raise StormwaterInputError(f"{where}: {node.id} is not a VARIABLE defined before")
            if named[node.id] is None or named[node.id].obj == "EXPRESSION":
                raise ControlRuleUnsupported(f"it uses {node.id}, which is not simulated")
            terms[node.id] = (node.id, named[node.id], _control_unit(named[node.id], units))
    return Variable(obj="EXPRESSION", name=name, attribute="VALUE", formula=text,
                    terms=tuple(terms[k] for k in sorted(terms)))


def _variable(tokens: list[str], model, where: str, named=None) -> tuple[Variable, int]:
    """The variable at the head of `tokens` and how many tokens it took."""
    if not tokens:
        raise StormwaterInputError(f"{where}: missing variable")
    if named and tokens[0].upper() in named:
        var = named[tokens[0].upper()]
        if var is None:
            raise ControlRuleUnsupported(f"named variable or expression {tokens[0]} is not simulated")
        return var, 1
    obj = tokens[0].upper()
    if obj == "SIMULATION":
        if len(tokens) < 2:
            raise StormwaterInputError(f"{where}: SIMULATION needs an attribute")
        attr = tokens[1].upper()
        if attr not in TIME_ATTRIBUTES:
            raise StormwaterInputError(f"{where}: SIMULATION {attr}: expected one of {', '.join(TIME_ATTRIBUTES)}")
        return Variable(obj=obj, name="", attribute=attr), 2
    if len(tokens) < 3:
        raise StormwaterInputError(f"{where}: expected object name attribute")
    name, attr = tokens[1], tokens[2].upper()
    if obj == "GAGE":
        key = _canon(model.raingages, name)
        if key is None:
            raise StormwaterInputError(f"{where}: rain gage {name!r} not defined")
        if attr != "INTENSITY":
            raise ControlRuleUnsupported(f"GAGE {attr} (rain over past hours) is not simulated, only INTENSITY")
        return Variable(obj=obj, name=key, attribute=attr), 3
    if obj == "NODE":
        key = _canon(model.node_names, name)
        if key is None:
            raise StormwaterInputError(f"{where}: node {name!r} not defined")
        if attr not in NODE_ATTRIBUTES:
            raise StormwaterInputError(f"{where}: NODE {attr}: expected one of {', '.join(NODE_ATTRIBUTES)}")
        return Variable(obj=obj, name=key, attribute=attr), 3
    if obj in LINK_OBJECTS:
        key = _link(model, obj, name, where)
        allowed = {"PUMP": ("FLOW", "STATUS", "SETTING"), "ORIFICE": ("FLOW", "SETTING"),
                   "WEIR": ("FLOW", "SETTING"), "OUTLET": ("FLOW", "SETTING")}.get(obj, LINK_ATTRIBUTES)
        if attr not in allowed + ("TIMEOPEN", "TIMECLOSED"):
            raise StormwaterInputError(f"{where}: {obj} {attr}: expected one of {', '.join(allowed)}")
        if attr == "DEPTH" and key not in model.conduits:
            raise ControlRuleUnsupported("LINK DEPTH of a pump, orifice, weir or outlet is not simulated")
        if attr in ("STATUS", "FULLFLOW", "FULLDEPTH", "LENGTH", "SLOPE") and key not in model.conduits \
                and not (attr == "STATUS" and key in model.pumps):
            raise StormwaterInputError(f"{where}: {attr} is a conduit's (or a pump's STATUS)")
        return Variable(obj=obj, name=key, attribute=attr), 3
    raise StormwaterInputError(f"{where}: object {obj!r}: expected NODE, LINK, CONDUIT, PUMP, ORIFICE, WEIR, "
                               f"GAGE or SIMULATION")


def _link(model, obj: str, name: str, where: str) -> str:
    tables = {"CONDUIT": model.conduits, "PUMP": model.pumps, "ORIFICE": model.orifices, "WEIR": model.weirs,
              "OUTLET": model.outlets}
    if obj == "LINK":
        key = _canon(model.link_names, name)
    else:
        key = _canon(tables[obj], name)
    if key is None:
        raise StormwaterInputError(f"{where}: {obj.lower()} {name!r} not defined")
    return key


def _unit(var: Variable, units) -> float:
    """SI per file unit of a variable's values."""
    a = var.attribute
    if a in ("DEPTH", "MAXDEPTH", "HEAD", "FULLDEPTH", "LENGTH"):
        return units.length
    if a == "VOLUME":
        return units.length ** 3
    if a in ("FLOW", "INFLOW", "FULLFLOW"):
        return units.flow
    if a == "INTENSITY":
        return units.rate   # in/h | mm/h -> m/s
    return 1.0


def _premise(join: str, tokens: list[str], model, units, where: str, named=None) -> Premise:
    lhs, n = _variable(tokens, model, where, named)
    if n >= len(tokens):
        raise StormwaterInputError(f"{where}: missing relation")
    relation = tokens[n]
    if relation not in OPERATORS:
        raise StormwaterInputError(f"{where}: relation {relation!r}: expected one of {' '.join(OPERATORS)}")
    rest = tokens[n + 1:]
    if not rest:
        raise StormwaterInputError(f"{where}: missing value")
    if rest[0].upper() in ("NODE", "GAGE", "SIMULATION") + LINK_OBJECTS or rest[0].upper() in (named or {}):
        rhs, m = _variable(rest, model, where, named)
        if m != len(rest):
            raise StormwaterInputError(f"{where}: unexpected {' '.join(rest[m:])!r}")
        return Premise(join=join, lhs=lhs, relation=relation, rhs=rhs, lhs_unit=_control_unit(lhs, units))
    if len(rest) != 1 and not (lhs.attribute == "CLOCKTIME" and len(rest) == 2):
        raise StormwaterInputError(f"{where}: unexpected {' '.join(rest[1:])!r} (one clause per line)")
    return Premise(join=join, lhs=lhs, relation=relation, value=_premise_value(lhs, rest, units, where),
                   lhs_unit=_control_unit(lhs, units))


def _clock_s(text: str, where: str) -> float:
    """'H[:MM[:SS]]' or decimal hours (an AM / PM word may follow) -> s."""
    parts = text.split()
    ampm = parts[1].upper() if len(parts) > 1 else ""
    t = parts[0]
    try:
        if ":" in t:
            hms = [float(x) for x in t.split(":")]
            while len(hms) < 3:
                hms.append(0.0)
            s = hms[0] * 3600 + hms[1] * 60 + hms[2]
        else:
            s = float(t) * 3600
    except ValueError:
        raise StormwaterInputError(f"{where}: time {text!r}, expected H:MM[:SS] or decimal hours") from None
    if ampm in ("AM", "PM"):
        s = s % 43200 + (43200 if ampm == "PM" else 0)
    return s


def _control_unit(var: Variable, units) -> float:
    """SI per unit of the value SWMM hands a CURVE setting: file units; times in days, open / closed
    times in hours."""
    if var.attribute in ("TIME", "CLOCKTIME"):
        return 86400.0
    if var.attribute in ("TIMEOPEN", "TIMECLOSED"):
        return 3600.0
    if var.attribute == "INTENSITY":
        return units.depth / 3600.0
    return _unit(var, units)


def _premise_value(lhs: Variable, rest: list[str], units, where: str) -> float:
    a, text = lhs.attribute, rest[0]
    if a == "STATUS":
        if text.upper() not in STATUS_WORDS:
            raise StormwaterInputError(f"{where}: status {text!r}: expected ON, OFF, OPEN or CLOSED")
        return STATUS_WORDS[text.upper()]
    if a in ("TIME", "CLOCKTIME", "TIMEOPEN", "TIMECLOSED"):
        return _clock_s(" ".join(rest), where)
    if a == "DATE":
        try:
            month, day, year = (int(x) for x in text.split("/"))
            return float(datetime(year, month, day).toordinal())
        except ValueError:
            raise StormwaterInputError(f"{where}: date {text!r}, expected MM/DD/YYYY") from None
    if a == "DAYOFYEAR":
        if "/" in text:
            try:
                month, day = (int(x) for x in text.split("/")[:2])
                return float(datetime(1947, month, day).timetuple().tm_yday)   # a non-leap year, as SWMM
            except ValueError:
                raise StormwaterInputError(f"{where}: day {text!r}, expected MM/DD or 1-365") from None
    value = _number(text, where)
    if a == "DAY" and not 1 <= value <= 7 or a == "MONTH" and not 1 <= value <= 12:
        raise StormwaterInputError(f"{where}: {a} {text} out of range")
    if a == "INTENSITY":   # converted as the rain itself is (prepare._rain_table), so that 30 > 30 stays false
        return value * units.depth / 3600.0
    return value * _unit(lhs, units)


def _action(tokens: list[str], model, where: str) -> Action:
    if len(tokens) < 4:
        raise StormwaterInputError(f"{where}: expected object name STATUS|SETTING = value")
    obj, name, attr, eq = tokens[0].upper(), tokens[1], tokens[2].upper(), tokens[3]
    if obj not in ("CONDUIT", "PUMP", "ORIFICE", "WEIR", "OUTLET"):
        raise StormwaterInputError(f"{where}: action on {obj!r}: expected PUMP, ORIFICE, WEIR, OUTLET or CONDUIT")
    key = _link(model, obj, name, where)
    if eq != "=":
        raise StormwaterInputError(f"{where}: expected '=' after {attr}")
    values = tokens[4:]
    if not values:
        raise StormwaterInputError(f"{where}: missing setting")
    if values[0].upper() == "PID" and attr == "SETTING" and obj != "CONDUIT":
        if len(values) != 4:
            raise StormwaterInputError(f"{where}: expected SETTING = PID kp ki kd")
        return Action(obj=obj, name=key, attribute=attr, pid=tuple(_number(v, where) for v in values[1:]))
    if values[0].upper() in ("CURVE", "TIMESERIES") and attr == "SETTING" and obj != "CONDUIT":
        if len(values) != 2:
            raise StormwaterInputError(f"{where}: expected SETTING = {values[0].upper()} name")
        table = model.curves if values[0].upper() == "CURVE" else model.timeseries
        found = _canon(table, values[1])
        if found is None:
            raise StormwaterInputError(f"{where}: {values[0].lower()} {values[1]!r} not defined")
        kind = "curve" if values[0].upper() == "CURVE" else "series"
        return Action(obj=obj, name=key, attribute=attr, **{kind: found})
    if len(values) > 1:
        raise StormwaterInputError(f"{where}: unexpected {' '.join(values[1:])!r} (one clause per line)")
    kind = ("CONDUIT" if key in model.conduits else "PUMP" if key in model.pumps
            else "ORIFICE" if key in model.orifices else "WEIR" if key in model.weirs else "OUTLET")
    if attr == "STATUS":
        if kind not in ("PUMP", "CONDUIT"):
            raise StormwaterInputError(f"{where}: STATUS is set on pumps and conduits; use SETTING for a "
                                       f"{kind.lower()}")
        word = values[0].upper()
        allowed = ("ON", "OFF") if kind == "PUMP" else ("OPEN", "CLOSED")
        if word not in allowed:
            raise StormwaterInputError(f"{where}: {kind} STATUS {values[0]!r}: expected {' or '.join(allowed)}")
        return Action(obj=obj, name=key, attribute=attr, value=STATUS_WORDS[word])
    if attr == "SETTING":
        if kind == "CONDUIT":
            raise StormwaterInputError(f"{where}: a conduit takes STATUS = OPEN|CLOSED, not SETTING")
        value = _number(values[0], where)
        if value < 0 or (kind != "PUMP" and value > 1):
            raise StormwaterInputError(f"{where}: {kind} SETTING {values[0]}: expected "
                                       f"{'>= 0' if kind == 'PUMP' else 'an open fraction 0..1'}")
        return Action(obj=obj, name=key, attribute=attr, value=value)
    raise StormwaterInputError(f"{where}: action attribute {attr!r}: expected STATUS or SETTING")


# ---------------------------------------------------------------------------- writing


def _g(x: float) -> str:
    return f"{x:.10g}"


def _fmt_clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{(s % 3600) // 60:02d}:{s % 60:02d}"


def _fmt_variable(v: Variable) -> str:
    if v.obj == "EXPRESSION":
        return v.name
    return f"SIMULATION {v.attribute}" if v.obj == "SIMULATION" else f"{v.obj} {v.name} {v.attribute}"


def _fmt_value(p: Premise, units) -> str:
    a, v = p.lhs.attribute, p.value
    if a == "STATUS":
        kind = "PUMP" if p.lhs.obj == "PUMP" else "LINK"
        return ("ON" if v else "OFF") if kind == "PUMP" else ("OPEN" if v else "CLOSED")
    if a in ("TIME", "CLOCKTIME", "TIMEOPEN", "TIMECLOSED"):
        return _fmt_clock(v)
    if a == "DATE":
        return datetime.fromordinal(int(v)).strftime("%m/%d/%Y")
    return _g(v / _unit(p.lhs, units))


def format_controls(controls: Controls, units) -> list[str]:
    """The [CONTROLS] lines in the file's units (rules not simulated: their text as read)."""
    out = list(controls.kept_lines)
    for r in controls.rules:
        if out:
            out.append("")
        if r.unsupported and r.text:
            out.extend(r.text)
            continue
        out.append(f"RULE {r.name}")
        for p in r.premises:
            rhs = _fmt_variable(p.rhs) if p.rhs is not None else _fmt_value(p, units)
            out.append(f"{p.join:<4} {_fmt_variable(p.lhs)} {p.relation} {rhs}")
        for word, actions in (("THEN", r.then_actions), ("ELSE", r.else_actions)):
            for k, a in enumerate(actions):
                if a.attribute == "STATUS":
                    value = ("ON" if a.value else "OFF") if a.obj == "PUMP" else ("OPEN" if a.value else "CLOSED")
                elif a.pid:
                    value = "PID " + " ".join(_g(v) for v in a.pid)
                elif a.curve or a.series:
                    value = f"CURVE {a.curve}" if a.curve else f"TIMESERIES {a.series}"
                else:
                    value = _g(a.value)
                out.append(f"{word if k == 0 else 'AND':<4} {a.obj} {a.name} {a.attribute} = {value}")
        if r.priority:
            out.append(f"PRIORITY {_g(r.priority)}")
    return out

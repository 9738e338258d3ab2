"""Running control rules: their evaluation on a running system and the SimPy process that drives it.

`rule_controller` is a SimPy process: before each routing step (or each RULE_STEP) it switches the
pumps on their own start-up / shut-off depths, evaluates the rules (controls.py holds them, with SWMM's
semantics in its docstring) on the state that step starts from, and changes the link settings their
actions ask for; between evaluations the resumable kernel runs on (`prepare.Running`). `Watch` lets the
kernel run many steps at once without missing the step SWMM would act on.
"""
from __future__ import annotations

import functools
import math
from datetime import datetime, timedelta

from .controls import LINK_OBJECTS, MATH_FUNCTIONS, TIME_ATTRIBUTES, Action, Premise, Rule, Variable


def _compare(lhs: float, relation: str, rhs: float) -> bool:
    return {"=": lhs == rhs, "<>": lhs != rhs, "<": lhs < rhs, "<=": lhs <= rhs, ">": lhs > rhs,
            ">=": lhs >= rhs}[relation]


def _compare_time(lhs: float, relation: str, rhs: float, half_step: float) -> bool:
    # SWMM: a time "equals" a value within half a routing step of it
    if relation == "=":
        return rhs - half_step <= lhs < rhs + half_step
    if relation == "<>":
        return lhs < rhs - half_step or lhs >= rhs + half_step
    return _compare(lhs, relation, rhs)


@functools.lru_cache(maxsize=256)
def _compiled(formula: str):
    return compile(formula, "<expression>", "eval")


def variable_value(v: Variable, run, when: datetime) -> float:
    """Current value of a premise variable (SI) from a running system (`prepare.Running`)."""
    a = v.attribute
    if v.obj == "EXPRESSION":   # over its variables in file units, as SWMM evaluates it
        scope = {}
        for name, var, unit in v.terms:
            x = variable_value(var, run, when)
            if x is None:
                return None
            scope[name] = x / unit
        try:   # (the formula's syntax tree was checked when read: numbers, names, + - * / **, functions)
            return float(eval(_compiled(v.formula), {"__builtins__": {}, **MATH_FUNCTIONS}, scope))
        except (ArithmeticError, ValueError):
            return None
    if v.obj == "SIMULATION":
        if a == "TIME":
            return run.t
        if a == "CLOCKTIME":
            return when.hour * 3600.0 + when.minute * 60.0 + when.second + when.microsecond * 1e-6
        if a == "DATE":
            return float(when.toordinal())
        if a == "DAY":
            return float(when.isoweekday() % 7 + 1)   # Sunday = 1
        if a == "MONTH":
            return float(when.month)
        return float(when.timetuple().tm_yday)
    if v.obj == "GAGE":
        return run.rain_intensity(v.name)
    if v.obj == "NODE":
        return run.node_value(v.name, a)
    return run.link_value(v.name, a)


def rule_is_true(rule: Rule, run, when: datetime, step_s: float) -> tuple[bool, float, float]:
    """The rule's premises read left to right: OR joins the running result, AND stops it when false.
    Also returns the left and right values of the last premise compared, in file units (SWMM's control
    value and set point, which CURVE and PID settings read)."""
    result, control, set_point = True, 0.0, 0.0
    for p in rule.premises:
        if p.join == "OR":
            if result:
                continue
        elif not result:
            return False, control, set_point
        lhs = variable_value(p.lhs, run, when)
        rhs = variable_value(p.rhs, run, when) if p.rhs is not None else p.value
        if lhs is None or rhs is None or (isinstance(lhs, float) and math.isnan(lhs)):
            result = False
            continue
        control, set_point = lhs / p.lhs_unit, rhs / p.lhs_unit
        if p.lhs.attribute in ("TIME", "CLOCKTIME", "TIMEOPEN", "TIMECLOSED"):
            result = _compare_time(lhs, p.relation, rhs, 0.5 * step_s)
        else:
            result = _compare(lhs, p.relation, rhs)
    return result, control, set_point


def pid_setting(memory: list, gains: tuple, control: float, set_point: float, target: float, step_s: float,
                is_pump: bool) -> float:
    """A PID controller's new setting as SWMM's incremental form: relative error e0 = (set point -
    control) / set point, update = kp (e0 - e1 + e0 dt / ki + kd (e0 - 2 e1 + e2) / dt), dt in minutes,
    added to the link's target; errors forgotten when e0 stops changing; 0..1 (pumps >= 0).
    `memory` holds [e1, e2] between calls."""
    kp, ki, kd = gains
    dt = step_s / 60.0
    e0 = set_point - control
    if abs(e0) > 1e-6:
        e0 = e0 / set_point if set_point != 0.0 else e0 / control
    if abs(e0 - memory[0]) < 1e-4:
        memory[0] = memory[1] = 0.0
    update = kp * ((e0 - memory[0]) + (e0 * dt / ki if ki != 0.0 else 0.0)
                   + kd * (e0 - 2.0 * memory[0] + memory[1]) / dt)
    if abs(update) < 1e-4:
        update = 0.0
    memory[1], memory[0] = memory[0], e0
    setting = max(target + update, 0.0)
    return setting if is_pump else min(setting, 1.0)


def chosen_actions(rules: list[Rule], run, when: datetime, step_s: float) -> dict[str, tuple[Action, Rule, float]]:
    """Per link, the action to take now and the setting it asks for: the THEN (true) or ELSE (false)
    actions of every rule, the strictly higher priority winning for one link, the earlier rule on a tie
    (SWMM's action list). Every fired action's modulated value is worked out (a PID's memory moves on
    even when a rule of higher priority wins the link)."""
    chosen: dict[str, tuple[Action, Rule, float]] = {}
    for rule in rules:
        true, control, set_point = rule_is_true(rule, run, when, step_s)
        for k, a in enumerate(rule.then_actions if true else rule.else_actions):
            if a.curve:
                value = run.curve_value(a.curve, control)
            elif a.series:
                value = run.series_value(a.series)
            elif a.pid:
                memory = run.pid_memory.setdefault((rule.name, true, k), [0.0, 0.0])
                value = pid_setting(memory, a.pid, control, set_point, run.target_of(a.name), step_s, a.obj == "PUMP")
            else:
                value = a.value
            held = chosen.get(a.name)
            if held is None or rule.priority > held[1].priority:
                chosen[a.name] = (a, rule, value)
    return chosen


WATCHED_NODE = {"DEPTH": 0, "HEAD": 1, "VOLUME": 2, "INFLOW": 3}
WATCHED_LINK = {"FLOW": 4, "DEPTH": 5}
CONSTANT_NODE = ("MAXDEPTH",)
CONSTANT_LINK = ("FULLFLOW", "FULLDEPTH", "LENGTH", "SLOPE")


class Watch:
    """How the kernel can run many routing steps between rule evaluations and still act on the step
    SWMM would: comparisons of levels, flows and rain are watched inside the kernel (it stops when one
    changes truth); times (TIME, CLOCKTIME, DATE..., TIMEOPEN) give the next time a premise can change;
    pump STATUS / SETTING change only at a stop or when a pump's own depths switch it (the kernel stops
    before that step). Anything else makes the rules be evaluated after every step."""

    def __init__(self, rules: list[Rule], run):
        import numpy as np

        from . import kernels as K

        rows, consts = [], []
        self.time_premises: list[Premise] = []
        # a modulated setting follows its curve or series: evaluated every step
        self.every_step = any(a.curve or a.series or a.pid for r in rules for a in (*r.then_actions, *r.else_actions))
        for rule in rules:
            for p in rule.premises:
                left = self._watched(p.lhs, run)
                right = (K.WATCH_CONST, 0, p.value) if p.rhs is None else self._watched(p.rhs, run)
                if left is not None and right is not None and left[0] == right[0] == K.WATCH_CONST:
                    continue   # two constants (e.g. a MAXDEPTH against a number): never changes
                if left is not None and right is not None and left[0] != K.WATCH_CONST:
                    rows.append((left[0], left[1], K.RELATIONS.index(p.relation), right[0], right[1]))
                    consts.append(right[2])
                elif p.rhs is None and p.lhs.attribute in ("STATUS", "SETTING"):
                    continue
                elif p.rhs is None and p.lhs.attribute in TIME_ATTRIBUTES + ("TIMEOPEN", "TIMECLOSED"):
                    self.time_premises.append(p)
                else:
                    self.every_step = True
        self.rows = np.array(rows, dtype=np.int64).reshape(-1, 5)
        self.values = np.array(consts, dtype=float)
        self.last = np.zeros(len(rows), dtype=np.bool_)
        self.stop_on_switch = True

    @staticmethod
    def _watched(v: Variable, run):
        """(kernel kind, index, constant) of a variable the kernel can read, else None."""
        from . import kernels as K

        if v.obj == "NODE":
            if v.attribute in WATCHED_NODE:
                return WATCHED_NODE[v.attribute], run.node_index[v.name], 0.0
            return K.WATCH_CONST, 0, run.node_value(v.name, v.attribute)
        if v.obj == "GAGE":
            return K.WATCH_GAGE_RAIN, run.gage_index[v.name], 0.0
        if v.obj in LINK_OBJECTS:
            if v.attribute in WATCHED_LINK:
                return WATCHED_LINK[v.attribute], run.link_index[v.name], 0.0
            if v.attribute in CONSTANT_LINK:
                return K.WATCH_CONST, 0, run.link_value(v.name, v.attribute)
        return None

    def next_stop(self, run, start: datetime, max_step_s: float) -> float:
        """The time to run to before the rules must be evaluated again (s)."""
        t = run.t
        if self.every_step or run.moving:
            return t + 1e-6
        best = run.t_end
        for p in self.time_premises:
            a = p.lhs.attribute
            if a in ("DATE", "DAY", "MONTH", "DAYOFYEAR"):
                when = start + timedelta(seconds=t)
                midnight = datetime(when.year, when.month, when.day) + timedelta(days=1)
                best = min(best, (midnight - start).total_seconds())
                continue
            if a == "TIME":
                events = [p.value]
            elif a == "CLOCKTIME":
                clock0 = start.hour * 3600.0 + start.minute * 60.0 + start.second
                day = 86400.0
                base = t - (clock0 + t) % day      # this day's midnight (s from start)
                events = [base + p.value - day, base + p.value, base + p.value + day, base + day]
            else:   # TIMEOPEN / TIMECLOSED: from the link's last switch between closed and open
                k = run.link_index[p.lhs.name]
                events = [float(run.time_last_set[k]) + p.value]
            for e in events:
                if p.relation in ("=", "<>"):
                    # true within half a step of the time: evaluate every step around it
                    if e - max_step_s <= t < e + max_step_s:
                        return t + 1e-6
                    if t < e - max_step_s:
                        best = min(best, e - max_step_s)
                elif abs(t - e) <= 1e-9:
                    return t + 1e-6
                elif t < e:
                    best = min(best, e)
        return max(best, t + 1e-6)


def rule_controller(env, run, rules: list[Rule], rule_step_s: float, start: datetime, log: list):
    """SimPy process: evaluate the rules on the state each routing step starts from, change the settings
    their actions ask for, and let the routing run on to the next evaluation.

    At every evaluation the pumps' own start-up / shut-off depths switch them first (the rules may
    override). rule_step_s 0 evaluates before every routing step (SWMM's default), the kernel running
    many steps at once while nothing a premise reads can change (Watch); else at the end of the first
    routing step reaching each multiple of RULE_STEP (SWMM shortens that step to end on it). `log`
    receives (time s, link, new setting, rule) for every change a rule makes."""
    watch = Watch(rules, run) if rule_step_s <= 0.0 else None
    max_step = max(run.arg["route_step"], run.arg["wet_step"])
    next_rule_t = 0.0
    while True:
        run.switch_pumps_on_depth()
        if rule_step_s <= 0.0 or run.t >= next_rule_t - 1e-6:
            when = start + timedelta(seconds=run.t)
            for name, (action, rule, value) in chosen_actions(rules, run, when, run.step_s).items():
                if run.set_target(name, value) and not (action.curve or action.series or action.pid):
                    log.append((run.t, name, value, rule.name))   # (modulated changes unlogged, as SWMM)
            if rule_step_s > 0.0:
                while next_rule_t <= run.t + 1e-6:
                    next_rule_t += rule_step_s
        run.move_settings()
        if watch is not None:
            run.advance(watch.next_stop(run, start, max_step), watch)
        else:
            run.advance(run.t + 1e-6 if run.moving else max(next_rule_t, run.t + 1e-6))
        yield env.timeout(run.t - env.now)
        if run.done:
            break   # (SWMM evaluates before each step: none after the last)

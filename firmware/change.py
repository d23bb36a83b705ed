"""Making change from hoppers that hold a limited number of coins.

The hoppers hold counts the kiosk can only estimate, and :func:`change_plan` must say "impossible" rather than
promise change it cannot pay.  It solves the problem exactly (fewest coins) with a small bounded-knapsack table
over the amount in units of the coins' common divisor, so it does not depend on greedy's luck: for 10/50/100/500,
where each value divides the next, greedy under limits happens to work, but a hopper loaded with another value
(or two hoppers of one value, or a configuration error) would break it.
"""
from __future__ import annotations

from math import gcd


def change_plan(amount: int, stock: dict[int, int]) -> dict[int, int] | None:
    """The fewest coins, within ``stock`` ({coin value: count}), that make exactly ``amount`` yen.

    Returns {coin value: count} (only values used; {} for 0), or None if no combination makes the amount."""
    if amount < 0:
        raise ValueError("amount must not be negative")
    if amount == 0:
        return {}
    values = sorted((v for v, n in stock.items() if v > 0 and n > 0), reverse=True)
    if not values:
        return None
    unit = 0
    for value in values:
        unit = gcd(unit, value)
    if amount % unit:
        return None
    target = amount // unit
    impossible = target + 1
    # best[a] = fewest coins making a*unit; the lots split each stock into 1, 2, 4, ... coins (0/1 knapsack).
    best = [0] + [impossible] * target
    choice: list[list[tuple[int, int]]] = [[] for _ in range(target + 1)]
    for value in values:
        size = value // unit
        remaining = min(stock[value], target // size)
        lot = 1
        while remaining > 0:
            take = min(lot, remaining)
            remaining -= take
            lot *= 2
            step = size * take
            for a in range(target, step - 1, -1):
                candidate = best[a - step] + take
                if candidate < best[a]:
                    best[a] = candidate
                    choice[a] = choice[a - step] + [(value, take)]
    if best[target] >= impossible:
        return None
    plan: dict[int, int] = {}
    for value, take in choice[target]:
        plan[value] = plan.get(value, 0) + take
    return plan


def largest_payable(amount: int, stock: dict[int, int]) -> tuple[int, dict[int, int]]:
    """The largest amount up to ``amount`` that ``stock`` can pay exactly, and its plan."""
    unit = 0
    for value, count in stock.items():
        if count > 0:
            unit = gcd(unit, value)
    if unit == 0:
        return 0, {}
    for payable in range(amount - amount % unit, 0, -unit):
        plan = change_plan(payable, stock)
        if plan is not None:
            return payable, plan
    return 0, {}

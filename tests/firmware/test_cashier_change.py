"""Change planning with limited coins: exact, fewest coins, and never a promise the stock cannot keep."""
from itertools import product

from hypothesis import given, settings, strategies as st

from firmware.change import change_plan, largest_payable


def brute_force(amount, stock):
    """Fewest coins making ``amount`` by trying every combination (small stocks only)."""
    values = sorted(stock)
    best = None
    for counts in product(*(range(stock[v] + 1) for v in values)):
        if sum(v * n for v, n in zip(values, counts)) == amount:
            if best is None or sum(counts) < best:
                best = sum(counts)
    return best


def test_plans_use_the_stock_and_the_fewest_coins():
    assert change_plan(700, {500: 1, 100: 5, 50: 0, 10: 0}) == {500: 1, 100: 2}
    assert change_plan(700, {500: 0, 100: 5, 50: 4, 10: 0}) == {100: 5, 50: 4}
    assert change_plan(0, {}) == {}


def test_impossible_change_is_none():
    assert change_plan(700, {500: 1, 100: 1, 50: 1, 10: 4}) is None  # 690 at most
    assert change_plan(5, {10: 100}) is None
    assert change_plan(60, {50: 1}) is None
    assert change_plan(100, {}) is None


def test_an_uneven_set_where_greedy_fails_is_still_solved():
    # a hopper loaded with 30-yen tokens: greedy takes 50+30... and strands 10; 3×30+10 does not exist either
    assert change_plan(90, {50: 1, 30: 3}) == {30: 3}
    assert change_plan(60, {50: 1, 30: 2, 10: 0}) == {30: 2}


def test_largest_payable_stops_at_what_the_stock_can_make():
    assert largest_payable(700, {500: 1, 100: 1}) == (600, {500: 1, 100: 1})
    assert largest_payable(30, {50: 2}) == (0, {})


@settings(max_examples=100, deadline=None)
@given(amount=st.integers(0, 150).map(lambda n: n * 10),
       stock=st.fixed_dictionaries({500: st.integers(0, 3), 100: st.integers(0, 6), 50: st.integers(0, 4),
                                    10: st.integers(0, 6)}))
def test_agrees_with_brute_force(amount, stock):
    plan = change_plan(amount, stock)
    best = brute_force(amount, stock)
    if best is None:
        assert plan is None
    else:
        assert plan is not None
        assert sum(v * n for v, n in plan.items()) == amount
        assert all(n <= stock[v] for v, n in plan.items())
        assert sum(plan.values()) == best

"""Coins: an acceptor that credits coins and hoppers that pay change, one denomination per hopper."""
from hal.coins.contract import (  # noqa: F401
    CoinAcceptor, CoinAcceptorState, CoinAcceptorStateChanged, CoinCounterMoved, CoinCredited, CoinEventsLost,
    CoinRejected,
    DispenseResult, Hopper, HopperState, YEN_COINS,
)

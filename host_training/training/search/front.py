"""The Pareto front of accuracy against a cost, and the pick within named limits.

Pure functions over trial records (``{"trial_id", "val_accuracy", <costs>...}``):
no TensorFlow, so they are cheap to test on hand-made sets.
"""

from __future__ import annotations

from pynq_mnist.host_training.training.config import ConfigError
from pynq_mnist.host_training.training.search.costs import COSTS, ON_REQUEST

ACCURACY = "val_accuracy"


class NoPointFits(ConfigError):
    """No full-length trial lies within the limits a user named."""


def pareto_front(points: list[dict], cost: str) -> list[dict]:
    """The points no other point beats: cheaper or as cheap, and strictly more accurate.

    Returned cheapest first (so accuracy rises along it). Of points with the
    same cost and accuracy the first trial id is kept.
    """
    if cost not in COSTS:
        raise ConfigError(f"unknown cost {cost!r}; choose one of {', '.join(COSTS)}")
    _check_recorded(points, (cost,))
    ordered = sorted(points, key=lambda p: (p[cost], -p[ACCURACY], str(p["trial_id"])))
    front: list[dict] = []
    for point in ordered:
        if not front or point[ACCURACY] > front[-1][ACCURACY]:
            front.append(point)
    return front


def check_limits(limits: dict[str, int | None]) -> dict[str, int]:
    """The set limits, or a :class:`ConfigError` naming a bad one."""
    out = {}
    for key, value in limits.items():
        if key not in COSTS:
            raise ConfigError(f"unknown limit {key!r}; limits name one of {', '.join(COSTS)}")
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"limit {key} must be a positive integer, got {value!r}")
        out[key] = value
    return out


def _check_recorded(points: list[dict], costs: tuple[str, ...]) -> None:
    for cost in costs:
        if any(p.get(cost) is None for p in points):
            why = (
                "a search measures it only when its cost or limits name it"
                if cost in ON_REQUEST
                else "the search was made before the project measured it"
            )
            raise ConfigError(
                f"this search's trials do not record {cost} ({why}): search again with it, "
                "or drop the limit"
            )


def within(point: dict, limits: dict[str, int]) -> bool:
    return all(point[key] <= value for key, value in limits.items())


def pick(points: list[dict], limits: dict[str, int | None]) -> dict:
    """The most accurate point within every limit (ties: fewer nonzero weights, then id).

    That point is on the Pareto front of accuracy against every limited cost:
    a point beating it would be within the limits too, and more accurate.

    Raises
    ------
    NoPointFits
        With the cheapest point for each limited cost, so the user sees how far off it is.
    """
    limits = check_limits(limits)
    if not points:
        raise NoPointFits("the search holds no full-length trial yet")
    _check_recorded(points, tuple(limits))
    fits = [p for p in points if within(p, limits)]
    if not fits:
        cheapest = ", ".join(f"{key} >= {min(p[key] for p in points)}" for key in limits)
        wanted = ", ".join(f"{key} <= {value}" for key, value in limits.items())
        raise NoPointFits(
            f"no full-length trial of the search fits {wanted}; the search's trials have "
            f"{cheapest}: loosen a limit, or search a cheaper space"
        )
    return min(fits, key=lambda p: (-p[ACCURACY], p["nonzero_weights"], str(p["trial_id"])))

"""JSON values to typed NumPy arrays, checked element by element.

numpy converts too willingly: ``true`` and ``"1"`` become 1.0, ``null`` becomes NaN,
``1e39`` becomes infinity in FP32 and ``2.7`` becomes 2 in INT32 — each a silent,
confident wrong answer. Every JSON element's type is checked against the datatype
first; the default ``preprocess`` and OIP's JSON tensors share this one rule.
"""

from __future__ import annotations

from itertools import chain
from typing import Any

import numpy as np

from mlctl.bundle.schema import Datatype

NUMPY_DTYPES: dict[Datatype, Any] = {
    Datatype.BOOL: np.bool_,
    Datatype.UINT8: np.uint8,
    Datatype.UINT16: np.uint16,
    Datatype.UINT32: np.uint32,
    Datatype.UINT64: np.uint64,
    Datatype.INT8: np.int8,
    Datatype.INT16: np.int16,
    Datatype.INT32: np.int32,
    Datatype.INT64: np.int64,
    Datatype.FP16: np.float16,
    Datatype.FP32: np.float32,
    Datatype.FP64: np.float64,
    Datatype.BYTES: np.object_,
}
FLOATS = frozenset({Datatype.FP16, Datatype.FP32, Datatype.FP64})
#: The JSON element types each datatype accepts (``bool`` is not an ``int`` here).
_JSON_TYPES: dict[Datatype, tuple[frozenset[type], str]] = {
    Datatype.BOOL: (frozenset({bool}), "true or false"),
    Datatype.BYTES: (frozenset({str}), "strings"),
    **{d: (frozenset({int, float}), "numbers") for d in FLOATS},
}
_INTEGERS = (frozenset({int}), "integers")
#: The largest finite value of each float datatype (JSON numbers are doubles).
_LARGEST = {d: float(np.finfo(NUMPY_DTYPES[d]).max) for d in FLOATS}
#: Up to this many values, float input is range-checked in Python instead of by numpy.
_SMALL = 64
_TYPE_NAMES = {
    type(None): "null",
    bool: "true/false",
    str: "strings",
    list: "nested lists of uneven length",
    dict: "objects",
    int: "integers",
    float: "numbers with a fraction",
}


class BadRequest(ValueError):
    """The client sent something the model cannot take; answered with 400."""


def json_array(name: str, data: Any, datatype: Datatype) -> np.ndarray:
    """``data`` (a JSON value or nested lists) as an array of ``datatype``, shape kept.

    Refuses elements of the wrong JSON type, ragged nesting, integers out of range and
    floats that are not finite (NaN, or beyond the datatype's range).
    """
    rows = _rows(data)
    if rows is None:  # deeper than rows of values: let numpy find the leaves
        return _deep_json_array(name, data, datatype)
    allowed, what = _JSON_TYPES.get(datatype, _INTEGERS)
    kinds = set(map(type, rows[0] if len(rows) == 1 else chain.from_iterable(rows)))
    if not kinds <= allowed:
        _check_types(name, kinds, allowed, what, datatype)
    if datatype is Datatype.BYTES:
        return np.array(data, dtype=np.object_)
    small = (
        datatype in FLOATS and (len(rows[0]) if len(rows) == 1 else sum(map(len, rows))) <= _SMALL
    )
    if small and kinds:
        # JSON numbers are finite; only the cast can overflow. Checking the range first is
        # cheaper for a few values than numpy's error state plus a finiteness pass.
        _check_range(name, rows, datatype)
    try:
        if small:
            array = np.asarray(data, dtype=NUMPY_DTYPES[datatype])
        else:
            with np.errstate(over="ignore"):  # overflow to infinity is refused just below
                array = np.asarray(data, dtype=NUMPY_DTYPES[datatype])
    except OverflowError as exc:
        raise BadRequest(f"input {name!r}: {exc}") from None
    except ValueError:  # numpy's own text is long and names its internals
        raise BadRequest(f"input {name!r}: nested lists of different lengths") from None
    if not small:
        check_finite(name, array, datatype)
    return array


def _rows(data: Any) -> list[Any] | None:
    """``data`` as rows of leaves for a value, a list or a list of lists (the usual
    shapes); None for anything deeper or of uneven depth."""
    if type(data) is not list:
        return [[data]]
    if not data or type(data[0]) is not list:
        return [data]
    if set(map(type, data)) != {list} or any(row and type(row[0]) is list for row in data):
        return None
    return data


def _check_range(name: str, rows: list[Any], datatype: Datatype) -> None:
    largest = _LARGEST[datatype]
    if len(rows) == 1:
        low, high = min(rows[0]), max(rows[0])
    else:
        low = min(min(row) for row in rows if row)
        high = max(max(row) for row in rows if row)
    if high > largest or low < -largest:
        check_finite(name, np.array([np.inf]), datatype)  # the same message as for NaN/inf


def _deep_json_array(name: str, data: Any, datatype: Datatype) -> np.ndarray:
    try:
        leaves = np.array(data, dtype=np.object_)  # ragged lists stay list leaves
    except ValueError as exc:  # e.g. nested deeper than numpy's 64 dimensions
        raise BadRequest(f"input {name!r}: data is not a list of values: {exc}") from None
    allowed, what = _JSON_TYPES.get(datatype, _INTEGERS)
    _check_types(name, set(map(type, leaves.reshape(-1))), allowed, what, datatype)
    if datatype is Datatype.BYTES:
        return leaves
    try:
        with np.errstate(over="ignore"):
            array = leaves.astype(NUMPY_DTYPES[datatype])
    except OverflowError as exc:
        raise BadRequest(f"input {name!r}: {exc}") from None
    check_finite(name, array, datatype)
    return array


def _check_types(
    name: str, kinds: set[type], allowed: frozenset[type], what: str, datatype: Datatype
) -> None:
    wrong = kinds - allowed
    if wrong:
        found = ", ".join(sorted(_TYPE_NAMES.get(t, t.__name__) for t in wrong))
        raise BadRequest(f"input {name!r}: {datatype.value} data must be {what}, found {found}")


def check_finite(name: str, array: np.ndarray, datatype: Datatype) -> None:
    if datatype in FLOATS and not np.isfinite(array).all():
        raise BadRequest(
            f"input {name!r}: NaN or infinity (or a number beyond {datatype.value}'s range); "
            "send finite numbers only"
        )

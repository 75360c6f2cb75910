"""Datasets: read CSV/Parquet, check them, split off held-out rows, build the preprocessing.

The same code runs in the CLI (checks, before any upload) and inside every trial (split
and preprocessing), so all trials see the same rows and the packaged model's contract
repeats exactly what the trial did. Checks collect every problem, like bundle validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlctl.bundle.problems import Problem
from mlctl.errors import ConfigError, InvalidInput, NotFound
from mlctl.train.plan import Task

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
MAX_BYTES = 2 * 1024**3
MIN_ROWS = 20
MAX_CLASSES = 200
#: A numeric target with at most this many distinct integer values is read as classes.
CLASS_LIKE_INTEGERS = 20


def require_extra() -> None:
    """pandas, FLAML and friends come with the ``train`` extra; say so in one line,
    before anything is uploaded."""
    from mlctl.extras import missing_extra

    try:
        import flaml  # noqa: F401
        import pandas  # noqa: F401
        import sklearn  # noqa: F401
    except ImportError as exc:
        raise missing_extra(exc, "mlctl train") or ConfigError(
            f"mlctl train: {exc}", hint="pip install 'mlctl[train]'"
        ) from None


def dataset_format(path: Path) -> str:
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise InvalidInput(
            f"{path.name}: unsupported dataset format {path.suffix or '(none)'}",
            hint="use a .csv or .parquet file",
        )
    return fmt


def read_frame(path: Path) -> pd.DataFrame:
    import pandas as pd

    if not path.is_file():
        raise NotFound(f"{path}: no such dataset file")
    if path.stat().st_size > MAX_BYTES:
        raise InvalidInput(f"{path.name}: {path.stat().st_size} bytes exceed {MAX_BYTES}")
    fmt = dataset_format(path)
    try:
        return pd.read_csv(path) if fmt == "csv" else pd.read_parquet(path)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidInput(f"{path.name}: cannot be read as {fmt}: {first}") from None
    except Exception as exc:  # pandas' parser errors and pyarrow's have no common base
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidInput(f"{path.name}: cannot be read as {fmt}: {first}") from None


def infer_task(target: pd.Series) -> Task:
    """Strings, booleans and small sets of integers are classes; other numbers regress."""
    import pandas as pd

    if not pd.api.types.is_numeric_dtype(target) or pd.api.types.is_bool_dtype(target):
        return Task.CLASSIFICATION
    values = target.dropna()
    integral = bool((values == values.round()).all())
    if integral and values.nunique() <= CLASS_LIKE_INTEGERS:
        return Task.CLASSIFICATION
    return Task.REGRESSION


@dataclass(frozen=True)
class Columns:
    """The feature columns, split by kind; the order is the dataset's."""

    numeric: list[str]
    categorical: list[str]

    @property
    def all(self) -> list[str]:
        return [*self.numeric, *self.categorical]


def feature_columns(frame: pd.DataFrame, target: str) -> Columns:
    import pandas as pd

    numeric, categorical = [], []
    for name in frame.columns:
        if name == target:
            continue
        column = frame[name]
        if pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
            categorical.append(str(name))
        else:
            numeric.append(str(name))
    return Columns(numeric, categorical)


def check_frame(
    frame: pd.DataFrame, target: str, task: Task | None, source: str
) -> tuple[Task | None, list[Problem]]:
    """Every problem with the dataset for this target and task (None: inferred)."""
    problems: list[Problem] = []
    if target not in frame.columns:
        known = ", ".join(map(str, list(frame.columns)[:12]))
        problems.append(Problem(source, "--target", f"no column {target!r} (columns: {known})"))
        return None, problems
    if len({str(c) for c in frame.columns}) != len(frame.columns):
        problems.append(Problem(source, "columns", "column names must be unique"))
    labelled = frame[target].notna()
    if int(labelled.sum()) < MIN_ROWS:
        problems.append(
            Problem(
                source, "rows", f"{int(labelled.sum())} labelled rows; at least {MIN_ROWS} needed"
            )
        )
    columns = feature_columns(frame, target)
    if not columns.all:
        problems.append(Problem(source, "columns", "no feature columns besides the target"))
    for name in columns.all:
        if frame[name].isna().all():
            problems.append(Problem(source, f"column {name}", "is empty"))
    chosen = task or infer_task(frame[target])
    target_values = frame.loc[labelled, target]
    if chosen is Task.REGRESSION:
        import pandas as pd

        if not pd.api.types.is_numeric_dtype(target_values):
            problems.append(
                Problem(source, "--target", f"{target} is not numeric; use --task classification")
            )
    else:
        classes = target_values.nunique()
        if classes < 2:
            problems.append(Problem(source, "--target", f"{target} has {classes} class; need 2+"))
        elif classes > MAX_CLASSES:
            problems.append(
                Problem(
                    source,
                    "--target",
                    f"{target} has {classes} classes (over {MAX_CLASSES}); "
                    "use --task regression for a number",
                )
            )
        counts = target_values.value_counts()
        rare = counts[counts < 2]
        if len(rare):
            problems.append(
                Problem(
                    source,
                    "--target",
                    f"classes with a single row cannot be split: "
                    f"{', '.join(map(str, list(rare.index)[:5]))}",
                )
            )
    return chosen, problems


@dataclass(frozen=True)
class Split:
    """Held-out rows for the leaderboard; the rest is cross-validated by the trials."""

    train: pd.DataFrame
    holdout: pd.DataFrame


def split(frame: pd.DataFrame, target: str, task: Task, seed: int, fraction: float) -> Split:
    """A seeded split (stratified for classes), identical in every trial and in the CLI."""
    from sklearn.model_selection import train_test_split

    labelled = frame[frame[target].notna()].reset_index(drop=True)
    stratify = labelled[target] if task is Task.CLASSIFICATION else None
    train, holdout = train_test_split(
        labelled, test_size=fraction, random_state=seed, stratify=stratify
    )
    return Split(train.reset_index(drop=True), holdout.reset_index(drop=True))


def design_matrix(frame: pd.DataFrame, columns: Columns) -> Any:
    """The features as the model takes them: a float array when every column is a number
    (so serving needs numpy only), else a DataFrame (the contract builds one too)."""
    if columns.categorical:
        return frame[columns.all]
    return frame[columns.all].to_numpy(dtype=float)


def preprocessor(columns: Columns) -> Any:
    """Median-impute numbers; most-frequent-impute and one-hot encode categories.

    Unknown categories at serving time are ignored (all-zero), so a new value never
    fails a prediction. Numeric-only data is addressed by column position (it arrives
    as an array), mixed data by column name (it arrives as a DataFrame).
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    parts: list[tuple[str, Any, list[Any]]] = []
    if not columns.categorical:
        positions = list(range(len(columns.numeric)))
        return ColumnTransformer([("num", SimpleImputer(strategy="median"), positions)])
    if columns.numeric:
        parts.append(("num", SimpleImputer(strategy="median"), columns.numeric))
    if columns.categorical:
        parts.append(
            (
                "cat",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="most_frequent")),
                        ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                    ]
                ),
                columns.categorical,
            )
        )
    return ColumnTransformer(parts, remainder="drop")


def encode_labels(values: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """Classes as 0..k-1 (sorted), and the labels to map them back."""
    import numpy as np

    classes = sorted(values.unique().tolist(), key=lambda v: (str(type(v)), v))
    index = {label: i for i, label in enumerate(classes)}
    return np.asarray([index[v] for v in values], dtype=np.int64), classes

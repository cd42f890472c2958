"""Files the ``fcplan`` sub-commands read and write: CSV or Parquet panels in, CSV out (or
standard output), each output written whole and then moved over ``--out``."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from fcplan.core.panel import UNIQUE_ID

if TYPE_CHECKING:
    import pandas as pd


class InputError(ValueError):
    """A file or option the user can fix; the message says how."""


def _holds_nul(path: Path, chunk: int = 1 << 20) -> bool:
    """Whether the file holds a NUL byte (read in chunks)."""
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            if b"\x00" in block:
                return True
    return False


#: The first bytes of a Parquet file.
PARQUET_MAGIC = b"PAR1"


def is_parquet(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(len(PARQUET_MAGIC)) == PARQUET_MAGIC


def _read_parquet(path: Path, what: str, expected: str) -> tuple[pd.DataFrame, list[object]]:
    """A Parquet file (it was "not a readable CSV ('utf-8' codec can't decode byte ...)") and its
    column names; a named index (a frame saved with ``set_index``) becomes columns."""
    import pandas as pd

    try:
        frame = pd.read_parquet(path)
    except (ImportError, ValueError, OSError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise InputError(
            f"{what} file {str(path)!r} is not a readable Parquet file ({' '.join(str(exc).split())}); save it "
            f"again, or as a CSV file ({expected})"
        ) from exc
    if any(name is not None for name in frame.index.names):
        frame = frame.reset_index()
    return frame, list(frame.columns)


def read_csv(path: Path, what: str, expected: str) -> pd.DataFrame:
    """A CSV (or Parquet) file the user named (``what``: "history", "forecasts", ...), ids as
    text; an :class:`InputError` saying what to pass when it is missing or unreadable."""
    if not path.is_file():
        state = "is a directory" if path.is_dir() else "does not exist"
        raise InputError(f"{what} file {str(path)!r} {state}; pass the path of a CSV file ({expected})")
    if is_parquet(path):
        frame, header = _read_parquet(path, what, expected)
    else:
        frame, header = _read_text(path, what, expected)
    return _checked(frame, header, path, what, expected)


#: The cells pandas reads as missing by default (its documented ``na_values``), kept as text in id columns.
MISSING_WORDS = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>",
                 "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null")


def _read_text(path: Path, what: str, expected: str) -> tuple[pd.DataFrame, list[object]]:
    """A CSV file, ids as text, and its header as written."""
    import pandas as pd

    try:
        raw_names = pd.read_csv(path, nrows=0).columns
        # " ds" and "y " (a space after the comma) are ds and y; the id column stays text ("007")
        ids = [c for c in raw_names if str(c).strip().removeprefix("\ufeff") == UNIQUE_ID]
        # pandas 2's C parser ends a field at a NUL ("A\x00" read as "A", silently merging ids); the
        # Python parser keeps it for the id check below
        engine = "python" if _holds_nul(path) else "c"
        # an id written "NA", "None" or "null" (North America, a region code) is that id, not a missing
        # cell: pandas' missing-value words apply to the other columns only
        frame = pd.read_csv(path, dtype={c: str for c in ids} or {UNIQUE_ID: str}, engine=engine,
                            keep_default_na=False, na_values={c: MISSING_WORDS for c in raw_names if c not in ids})
        header = pd.read_csv(path, header=None, nrows=1, dtype=str).iloc[0].tolist() if len(frame.columns) else []
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        reason = " ".join(str(exc).split())
        raise InputError(
            f"{what} file {str(path)!r} is not a readable CSV ({reason}); save it as comma-separated text "
            f"with a header row and {expected}"
        ) from exc
    return frame, header


def _checked(frame: pd.DataFrame, header: list[object], path: Path, what: str, expected: str) -> pd.DataFrame:
    """``frame`` with its column names stripped, or an :class:`InputError` for a name given twice,
    an id with a control character or a file separated by something else than commas."""
    names = [str(name).strip().removeprefix("\ufeff") for name in header]
    if names and (names[0].startswith("#") or names[0].lower().startswith("sep=")) and UNIQUE_ID not in names:
        # Excel's "sep=," line or an exporter's "# comment" above the header: it was "lacks column(s)
        # ['unique_id', 'ds', 'y']; it has ['sep=', 'Unnamed: 1']. Rename your ... columns". A header
        # that names unique_id is the header, even with a first column called "#" (a row number).
        with path.open(encoding="utf-8-sig", errors="replace") as fh:
            line = fh.readline().strip()
        raise InputError(
            f"{what} file {str(path)!r} starts with {line[:60]!r}, not its header row: "
            f"delete the line(s) above the header, so that the file's first line names the columns ({expected})"
        )
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:  # pandas would rename the second "y" to "y.1" and read it as a covariate
        raise InputError(
            f"{what} file {str(path)!r} has column(s) {twice} more than once in its header; rename or drop the "
            "extra one(s) so each column has its own name"
        )
    frame.columns = [str(c).strip().removeprefix("\ufeff") for c in frame.columns]
    if UNIQUE_ID in frame.columns:
        from fcplan.core.panel import PanelError, check_printable_ids

        try:
            check_printable_ids(frame[UNIQUE_ID], what)
        except PanelError as exc:
            raise InputError(f"{what} file {str(path)!r}: {exc}") from exc
    if len(frame.columns) == 1:
        sep = next((s for s in (";", "\t", "|") if s in str(frame.columns[0])), None)
        if sep is not None:
            raise InputError(
                f"{what} file {str(path)!r} looks separated by {sep!r}, not commas (its one column is "
                f"{str(frame.columns[0])[:60]!r}); save it as comma-separated text ({expected})"
            )
    return frame


#: ``--out -``: the table goes to standard output as CSV (it was written to a file named "-").
STDOUT = "-"
#: Endings of other formats than the CSV or Parquet that ``--out`` writes (CSV text was written
#: under them: Excel refused "x.xlsx", a JSON reader "x.json").
OTHER_FORMATS = (".xlsx", ".xlsm", ".xls", ".ods", ".json", ".jsonl", ".ndjson", ".feather", ".arrow", ".orc",
                 ".avro", ".pkl", ".pickle", ".h5", ".hdf5", ".xml", ".html", ".parq", ".pq", ".tsv")


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (through links, ./ and ../ too)."""
    import os

    try:
        return os.path.samefile(a, b)
    except OSError:  # one does not exist yet
        return a.resolve() == b.resolve()


def to_stdout(out: Path | None) -> bool:
    """Whether ``--out`` is ``-`` (standard output); the caller then says its summary on standard error."""
    return out is not None and str(out) == STDOUT


def write_csv(frame: pd.DataFrame, out: Path) -> None:
    """``frame`` to ``out`` without its index (Parquet when ``out`` ends in .parquet, CSV on standard
    output for ``-``, else CSV); an :class:`InputError` when ``out`` cannot be written."""
    if to_stdout(out):
        typer.echo(frame.to_csv(index=False), nl=False)
        return
    try:
        with _replaced_whole(out) as path:
            if out.suffix.lower() == ".parquet":  # it was CSV text in a file named .parquet
                frame.to_parquet(path, index=False)
            else:
                frame.to_csv(path, index=False)
    except OSError as exc:
        reason = exc.strerror or " ".join(str(exc).split())
        raise InputError(f"cannot write {str(out)!r} ({reason}); choose a writable path for --out") from exc


@contextmanager
def _replaced_whole(out: Path) -> Iterator[Path]:
    """A path to write ``out``'s new content to, moved over ``out`` once written: a Ctrl-C, a kill or a
    full disk while writing leaves the file as it was (it left half a forecast, which a plan read as
    a forecast of fewer centers, and the previous file lost). Devices, pipes and links are written in
    place. The partial file has ``out``'s own name, in a hidden folder beside it, so that pandas reads the
    same compression from it and names an archive's member alike (``o.csv.zip`` held
    ``.o.csv.partial-PID``, and ``o.csv.tar.gz`` was a gzip file, not a tar archive)."""
    if out.is_symlink() or (out.exists() and not out.is_file()):
        yield out
        return
    folder = out.with_name(f".{out.name}.partial-{os.getpid()}")
    partial = folder / out.name
    folder.mkdir(exist_ok=True)
    try:
        yield partial
        if out.exists():
            shutil.copymode(out, partial)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
        folder.rmdir()


def check_writable(out: Path, inputs: dict[str, Path | None] | None = None) -> None:
    """An :class:`InputError` when ``out`` cannot be written (a directory, a missing or read-only
    folder) or is one of the ``inputs`` (``{"--history": path}``): said before the work whose
    result it would hold, not after. ``--out h.csv --history h.csv`` wrote the forecast over the
    history, which was lost."""
    import os

    if to_stdout(out):
        return
    for option, path in (inputs or {}).items():
        if path is not None and _same_file(out, path):
            raise InputError(f"--out {str(out)!r} is the {option} file: writing it would replace that input; "
                             "choose another path for --out")
    suffix = out.suffix.lower()
    if suffix in OTHER_FORMATS:
        raise InputError(f"--out {str(out)!r}: fcplan writes CSV (or Parquet for a name ending in .parquet), not "
                         f"{suffix}; name it {str(out.with_suffix('.csv'))!r} (or .parquet), or - for standard output")
    folder = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        raise InputError(f"--out {str(out)!r} is a directory; give a file name, e.g. {str(out / 'out.csv')!r}")
    if not folder.is_dir():
        raise InputError(f"--out {str(out)!r}: folder {str(folder)!r} does not exist; create it or choose another path")
    if not os.access(folder, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise InputError(f"--out {str(out)!r} is not writable; choose a writable path for --out")


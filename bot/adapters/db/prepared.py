"""Named Core statements run on a connection; on SQLite the hot ones skip most of the engine.

SQLAlchemy's per-execute work (cache lookup, parameter processing set-up, result set-up) was
most of an intake delivery's cost on SQLite. Here each statement is compiled once per
parameter shape; execution binds parameters with the column types' own processors and runs
on the DBAPI cursor of the same connection, inside the same transaction. Statements with
expanding IN lists, and every statement on other databases, go through Core as usual.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, Dialect, Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.types import JSON, DateTime, TypeDecorator, TypeEngine

Params = Mapping[str, Any]
Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Prepared:
    sql: str
    names: tuple[str, ...]
    constants: Mapping[str, Any]  # binds the statement fixes itself (e.g. a literal status)
    processors: tuple[Processor, ...]
    columns: tuple[str, ...]  # selected column keys; empty for inserts and updates
    results: tuple[Processor, ...]

    # set in __post_init__: itemgetter pulls every value in C, and only the columns that
    # need it are converted
    _get: Callable[[Params], tuple[Any, ...]] = field(init=False, repr=False)
    _converting: tuple[tuple[int, Callable[[Any], Any]], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        getter = operator.itemgetter(*self.names) if self.names else (lambda _p: ())
        one = len(self.names) == 1
        object.__setattr__(self, "_get", (lambda p: (getter(p),)) if one else getter)
        converting = tuple((i, p) for i, p in enumerate(self.processors) if p is not None)
        object.__setattr__(self, "_converting", converting)

    def bind(self, params: Params) -> list[Any]:
        values = list(self._get({**self.constants, **params} if self.constants else params))
        for index, convert in self._converting:
            values[index] = convert(values[index])
        return values


def _bind_processor(type_: TypeEngine[Any], dialect: Dialect) -> Processor:
    # dialect_impl: the SQLite flavour of each type (dates as text, JSON as text)
    process = type_.dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return None
    base = type_.impl_instance if isinstance(type_, TypeDecorator) else type_
    if isinstance(base, DateTime):
        # one delivery binds the same `now` half a dozen times, in different statements
        key = (repr(type_), id(dialect))
        if key not in _DATETIME_MEMOS:
            _DATETIME_MEMOS[key] = functools.lru_cache(maxsize=64)(process)
        return _DATETIME_MEMOS[key]
    if isinstance(base, JSON):
        return _empty_json_shortcut(process)
    return process


def _empty_json_shortcut(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Empty mappings (annotations, payloads, snapshots) are common: skip the encoder."""

    def convert(value: Any) -> Any:
        return "{}" if value == {} else process(value)

    return convert


def _prepare(statement: ClauseElement, dialect: Dialect, keys: tuple[str, ...]) -> _Prepared:
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    assert isinstance(compiled, SQLCompiler)
    names = tuple(compiled.positiontup or ())
    processors = tuple(_bind_processor(compiled.binds[name].type, dialect) for name in names)
    keys_out: tuple[str, ...] = ()
    results: tuple[Processor, ...] = ()
    columns = getattr(statement, "selected_columns", None)
    if columns is not None and not compiled.isinsert and not compiled.isupdate:
        keys_out = tuple(c.key for c in columns)
        results = tuple(
            c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
        )
    constants = {name: compiled.binds[name].effective_value for name in names if name not in keys}
    return _Prepared(compiled.string, names, constants, processors, keys_out, results)


class StatementRunner:
    def __init__(self, conn: Connection, statements: Mapping[str, Executable]) -> None:
        self.conn = conn
        self.statements = statements
        self.fast = conn.dialect.name == "sqlite"
        self._raw_cursor: Any = None

    def rows(self, name: str, params: Params) -> list[Any]:
        prepared = self._fast(name, params)
        if prepared is None:
            return list(self.conn.execute(self.statements[name], dict(params)).all())
        cursor = self._cursor()
        cursor.execute(prepared.sql, prepared.bind(params))
        keys, procs = prepared.columns, prepared.results
        return [
            SimpleNamespace(
                **{k: p(v) if p else v for k, p, v in zip(keys, procs, raw, strict=True)}
            )
            for raw in cursor.fetchall()
        ]

    def run(self, name: str, params: Params | Sequence[Params]) -> None:
        many = list(params) if not isinstance(params, Mapping) else [params]
        if not many:
            return
        prepared = self._fast(name, many[0])
        if prepared is None:
            self.conn.execute(self.statements[name], [dict(p) for p in many])
            return
        self._cursor().executemany(prepared.sql, [prepared.bind(p) for p in many])

    def insert_id(self, name: str, params: Params) -> int:
        prepared = self._fast(name, params)
        if prepared is None:
            key = self.conn.execute(self.statements[name], dict(params)).inserted_primary_key
            assert key is not None
            return int(key[0])
        cursor = self._cursor()
        cursor.execute(prepared.sql, prepared.bind(params))
        return int(cursor.lastrowid)

    def _fast(self, name: str, params: Params) -> _Prepared | None:
        if not self.fast:
            return None
        statement = self.statements[name]
        key = (id(statement), tuple(params))
        prepared = _PREPARED.get(key, _NOT_YET)
        if prepared is _NOT_YET:
            assert isinstance(statement, ClauseElement)
            expanding = any(b.expanding for b in statement._get_embedded_bindparams())
            prepared = None if expanding else _prepare(statement, self.conn.dialect, key[1])
            _PREPARED[key] = prepared
        return prepared  # type: ignore[return-value]

    def _cursor(self) -> Any:
        if self._raw_cursor is None:
            self._raw_cursor = self.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        return self._raw_cursor


# (statement identity, parameter names) -> prepared form, or None where Core must run it.
# The statements are built once per process (functools.cache), so identities are stable.
_PREPARED: dict[tuple[int, tuple[str, ...]], _Prepared | None] = {}
_NOT_YET = object()
_DATETIME_MEMOS: dict[tuple[str, int], Processor] = {}

"""Where a node's World keeps the Items, Transactions and Rights it holds: the most recently used
ones in memory, every one in a private temporary SQLite file (DEVELOPERS: what peers can make us spend has
a limit; issue 18's soak: an M-Instance's memory must not grow with every Item it ever held).

The World is rebuilt from Activity Data on every start (``ProcessActionEngine.replay``), so this
file is a spill, not a store: nothing in it must survive the process, and SQLite deletes it when
the connection closes (a database opened with the empty name). The durable record stays Activity
Data and the asset ledger.

A document read back is the same object until it leaves the memory; when it leaves, it is written
back, so a change made in place to a document just read (``_refresh_capabilities``) is kept.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, MutableMapping
from typing import Any

from instance.world.model import Action, DeonticVerb, Right, RightLevel

DOCS_IN_MEMORY = 1_024
"""How many documents of one table a :class:`SpilledDocs` keeps in memory."""

HOLDERS_IN_MEMORY = 256
"""How many holders' Rights a :class:`SpilledRights` keeps in memory (a Rights check reads them)."""

RIGHTS_PER_HOLDER_IN_MEMORY = 64
"""A holder's Rights are kept in memory only if it holds at most this many. A holder with more (a
Process that has received thousands of Assets holds Rights on each) is asked about in the file,
by holder and target (:meth:`SpilledRights.held_on`): kept whole, its Rights made the memory of
the ``HOLDERS_IN_MEMORY`` holders grow with every Right they were ever given (issue 18's soak:
instance-b's cache of 5 holders held 0.5 MB after 3 minutes, growing 2.5 KB/s)."""

Doc = dict[str, Any]


class Spill:
    """One private temporary SQLite database (``sqlite3.connect("")``), its page cache ``cache_kib``
    KiB; deleted when closed. Safe to use from several threads (one lock)."""

    def __init__(self, *, cache_kib: int = 1_024) -> None:
        self.lock = threading.Lock()
        self.db = sqlite3.connect("", check_same_thread=False, isolation_level=None)
        self.db.execute(f"PRAGMA cache_size = -{int(cache_kib)}")
        self.db.execute("PRAGMA journal_mode = OFF")
        self.db.execute("PRAGMA synchronous = OFF")

    def docs(self, table: str, *, in_memory: int | None = None) -> SpilledDocs:
        """A mapping of id -> JSON document kept in ``table`` (a plain identifier), ``in_memory``
        of them in memory (default :data:`DOCS_IN_MEMORY`)."""
        return SpilledDocs(self, table, in_memory=DOCS_IN_MEMORY if in_memory is None else in_memory)

    def rights(self, *, holders_in_memory: int | None = None, per_holder: int | None = None) -> SpilledRights:
        """A mapping of RightsID -> :class:`~instance.world.model.Right` kept in table ``rights``,
        indexed by holder and target; the Rights of ``holders_in_memory`` recent holders in memory
        (default :data:`HOLDERS_IN_MEMORY`), of those holding at most ``per_holder`` (default
        :data:`RIGHTS_PER_HOLDER_IN_MEMORY`)."""
        return SpilledRights(
            self,
            in_memory=HOLDERS_IN_MEMORY if holders_in_memory is None else holders_in_memory,
            per_holder=RIGHTS_PER_HOLDER_IN_MEMORY if per_holder is None else per_holder,
        )

    def close(self) -> None:
        with self.lock:
            self.db.close()


class SpilledDocs(MutableMapping[str, Doc]):
    """id -> JSON-able document (``dict``), the last ``in_memory`` used in memory (least recently
    used written back and dropped first), all of them in the :class:`Spill`'s table. Iteration is
    in id order. Copies (``pickle``, ``copy.deepcopy``) are plain ``dict`` objects."""

    def __init__(self, spill: Spill, table: str, *, in_memory: int = DOCS_IN_MEMORY) -> None:
        if not table.isidentifier():
            raise ValueError(f"table name {table!r} is not an identifier")
        if in_memory < 1:
            raise ValueError("in_memory must be >= 1")
        self._spill = spill
        self._table = table
        self.in_memory = in_memory
        self._cache: OrderedDict[str, Doc] = OrderedDict()
        with spill.lock:
            spill.db.execute(f"CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY, doc TEXT NOT NULL)")

    def __getitem__(self, key: str) -> Doc:
        doc = self._cache.get(key)
        if doc is not None:
            self._cache.move_to_end(key)
            return doc
        with self._spill.lock:
            row = self._spill.db.execute(f"SELECT doc FROM {self._table} WHERE id = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        loaded: Doc = json.loads(row[0])
        self._keep(key, loaded)
        return loaded

    def __setitem__(self, key: str, doc: Doc) -> None:
        self._write(key, doc)
        self._keep(key, doc)

    def __delitem__(self, key: str) -> None:
        cached = self._cache.pop(key, None)
        with self._spill.lock:
            cur = self._spill.db.execute(f"DELETE FROM {self._table} WHERE id = ?", (key,))
        if cur.rowcount == 0 and cached is None:
            raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        if key in self._cache:
            return True
        if not isinstance(key, str):
            return False
        with self._spill.lock:
            row = self._spill.db.execute(f"SELECT 1 FROM {self._table} WHERE id = ?", (key,)).fetchone()
        return row is not None

    def __iter__(self) -> Iterator[str]:
        with self._spill.lock:
            keys = [k for (k,) in self._spill.db.execute(f"SELECT id FROM {self._table} ORDER BY id")]
        return iter(keys)

    def __len__(self) -> int:
        with self._spill.lock:
            return int(self._spill.db.execute(f"SELECT COUNT(*) FROM {self._table}").fetchone()[0])

    def __reduce__(self) -> Any:
        return (dict, (dict(self.items()),))

    def __deepcopy__(self, memo: dict[int, Any]) -> Doc:
        import copy

        return {k: copy.deepcopy(v, memo) for k, v in self.items()}

    def cached(self) -> int:
        """How many documents are in memory now (at most ``in_memory``)."""
        return len(self._cache)

    def _keep(self, key: str, doc: Doc) -> None:
        self._cache[key] = doc
        self._cache.move_to_end(key)
        while len(self._cache) > self.in_memory:
            old_key, old_doc = self._cache.popitem(last=False)
            self._write(old_key, old_doc)  # a change made in place while it was in memory is kept

    def _write(self, key: str, doc: Doc) -> None:
        text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
        with self._spill.lock:
            self._spill.db.execute(f"INSERT OR REPLACE INTO {self._table} (id, doc) VALUES (?, ?)", (key, text))


class SpilledRights(MutableMapping[str, Right]):
    """RightsID -> Right, all in the :class:`Spill`'s ``rights`` table (indexed by holder and
    target, and by target); in memory the Rights of the last ``in_memory`` holders asked about
    (:meth:`held_by`, :meth:`held_on`) that hold at most ``per_holder`` Rights, so at most
    ``in_memory * per_holder`` Rights. Iteration is in RightsID order. Copies (``pickle``,
    ``copy.deepcopy``) are plain ``dict``s."""

    def __init__(
        self, spill: Spill, *, in_memory: int = HOLDERS_IN_MEMORY, per_holder: int = RIGHTS_PER_HOLDER_IN_MEMORY
    ) -> None:
        if in_memory < 1 or per_holder < 0:
            raise ValueError("in_memory must be >= 1 and per_holder >= 0")
        self._spill = spill
        self.in_memory = in_memory
        self.per_holder = per_holder
        self._held: OrderedDict[str, tuple[Right, ...]] = OrderedDict()
        self._many: OrderedDict[str, None] = OrderedDict()
        """Recent holders found to hold more than ``per_holder`` Rights: asked about in the file."""
        with spill.lock:
            spill.db.executescript(
                "CREATE TABLE IF NOT EXISTS rights (id TEXT PRIMARY KEY, holder TEXT NOT NULL,"
                " target TEXT NOT NULL, right TEXT NOT NULL);"
                "CREATE INDEX IF NOT EXISTS rights_by_holder ON rights(holder, target);"
                "CREATE INDEX IF NOT EXISTS rights_by_target ON rights(target);"
            )

    def held_by(self, holder_id: str) -> tuple[Right, ...]:
        """Every Right whose holder is ``holder_id``, in RightsID order (what ``World.rights_of``
        asks); kept in memory if there are at most ``per_holder``."""
        held = self._held.get(holder_id)
        if held is not None:
            self._held.move_to_end(holder_id)
            return held
        held = tuple(self._select("holder", holder_id))
        if len(held) > self.per_holder:
            _recent(self._many, holder_id, None, self.in_memory)
        else:
            self._many.pop(holder_id, None)
            _recent(self._held, holder_id, held, self.in_memory)
        return held

    def held_on(self, holder_id: str, target_ids: Iterable[str]) -> tuple[Right, ...]:
        """The Rights of ``holder_id`` on any of ``target_ids``, in RightsID order (what a Rights
        check reads: ``World.covering``): from memory, or for a holder of more than ``per_holder``
        Rights from the file's (holder, target) index."""
        targets = tuple(dict.fromkeys(target_ids))
        if holder_id in self._many:
            self._many.move_to_end(holder_id)
            marks = ", ".join("?" * len(targets))
            with self._spill.lock:
                rows = self._spill.db.execute(
                    f"SELECT right FROM rights WHERE holder = ? AND target IN ({marks}) ORDER BY id",
                    (holder_id, *targets),
                ).fetchall()
            return tuple(_right(text) for (text,) in rows)
        return tuple(r for r in self.held_by(holder_id) if r.target_id in targets)

    def cached(self) -> int:
        """How many Rights are in memory now (at most ``in_memory * per_holder``)."""
        return sum(len(held) for held in self._held.values())

    def on_target(self, target_id: str) -> list[Right]:
        """Every Right on ``target_id`` (ICapabilities, an Asset that leaves)."""
        return self._select("target", target_id)

    def __getitem__(self, key: str) -> Right:
        with self._spill.lock:
            row = self._spill.db.execute("SELECT right FROM rights WHERE id = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return _right(row[0])

    def __setitem__(self, key: str, right: Right) -> None:
        with self._spill.lock:
            old = self._spill.db.execute("SELECT holder FROM rights WHERE id = ?", (key,)).fetchone()
            self._spill.db.execute(
                "INSERT OR REPLACE INTO rights (id, holder, target, right) VALUES (?, ?, ?, ?)",
                (key, right.holder_id, right.target_id, _right_json(right)),
            )
        self._held.pop(right.holder_id, None)
        if old is not None:
            self._held.pop(old[0], None)

    def __delitem__(self, key: str) -> None:
        with self._spill.lock:
            old = self._spill.db.execute("SELECT holder FROM rights WHERE id = ?", (key,)).fetchone()
            if old is None:
                raise KeyError(key)
            self._spill.db.execute("DELETE FROM rights WHERE id = ?", (key,))
        self._held.pop(old[0], None)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        with self._spill.lock:
            return self._spill.db.execute("SELECT 1 FROM rights WHERE id = ?", (key,)).fetchone() is not None

    def __iter__(self) -> Iterator[str]:
        with self._spill.lock:
            keys = [k for (k,) in self._spill.db.execute("SELECT id FROM rights ORDER BY id")]
        return iter(keys)

    def __len__(self) -> int:
        with self._spill.lock:
            return int(self._spill.db.execute("SELECT COUNT(*) FROM rights").fetchone()[0])

    def __reduce__(self) -> Any:
        return (dict, (dict(self.items()),))

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Right]:
        return dict(self.items())  # a Right is immutable

    def _select(self, column: str, value: str) -> list[Right]:
        with self._spill.lock:
            rows = self._spill.db.execute(
                f"SELECT right FROM rights WHERE {column} = ? ORDER BY id", (value,)
            ).fetchall()
        return [_right(text) for (text,) in rows]


def _recent(cache: OrderedDict[str, Any], key: str, value: Any, limit: int) -> None:
    """Put ``key`` last in ``cache``, the oldest dropped past ``limit`` entries."""
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > limit:
        cache.popitem(last=False)


def _right_json(right: Right) -> str:
    return json.dumps(
        [
            right.rights_id,
            right.holder_id,
            right.verb.value,
            right.action.value,
            right.target_id,
            right.level.value,
            right.granted_by,
            right.valid_from_ms,
            right.valid_until_ms,
        ],
        separators=(",", ":"),
    )


def _right(text: str) -> Right:
    rights_id, holder, verb, action, target, level, granted_by, valid_from, valid_until = json.loads(text)
    return Right(
        rights_id,
        holder,
        DeonticVerb(verb),
        Action(action),
        target,
        RightLevel(level),
        granted_by,
        valid_from,
        valid_until,
    )


__all__ = [
    "DOCS_IN_MEMORY",
    "HOLDERS_IN_MEMORY",
    "RIGHTS_PER_HOLDER_IN_MEMORY",
    "Spill",
    "SpilledDocs",
    "SpilledRights",
]

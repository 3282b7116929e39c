"""Two costs of the embedded DynamoDB that grow with the table, removed without changing results.

moto keeps each table as a dictionary of partitions, yet:

- ``TransactWriteItems`` deep-copies every table it touches before it starts (once per item of
  the transaction), so that a cancelled transaction can put the whole table back. Cost: the size
  of the table, times the items in the transaction, for every transaction.
- ``Query`` on the table itself lists and sorts *every* item of the table, then keeps the
  partition asked for.

Both made the local stack slow down as its table grew (an ``order.paid`` a second at first, a few
per minute after thousands of orders). Here a transaction saves only the items it is about to
write and puts back exactly those when it is cancelled, and a query on the table reads only its
partition. Index queries are unchanged (moto has no per-index structure to read from).

Safe because the embedded endpoint serves one DynamoDB request at a time
(:class:`infra.local.aws.OneAtATime`): nothing else can write between the snapshot and the
rollback, which is what the whole-table copy guaranteed too.

Three fixed costs per request, found by profiling ``bench.throughput`` (they were most of the
time of a ``TransactWriteItems``, not the writes themselves):

- **Serialising attribute values.** moto's generic response serializer looks for each of the ten
  members of an ``AttributeValue`` (``S``, ``N``, ``B``, ... ``BOOL``) in every value, trying
  half a dozen spellings of each. An ``AttributeValue`` is a union (exactly one member set), and
  moto's results already hold it as a one-key dictionary, so only that member is serialised,
  through moto's own member serializer (binaries still base64-encoded, ``false`` and empty
  collections still written). Safe because the skipped members' spellings (``SS``, ``ss``,
  ``MapAttributeValue``, ...) never equal another member's name, so moto found nothing for them
  and wrote nothing; any other value (several keys, an unknown one) goes through moto unchanged.
- **Parsing update expressions.** The syntax tree of each ``UpdateExpression`` text is kept
  (up to 4,096 texts, then forgotten all at once), with its pickled bytes, instead of tokenising
  and parsing it again for every item of every transaction; the validator's copy of a kept tree
  is made by unpickling those bytes rather than by ``deepcopy`` (same objects, several times
  faster). Safe because moto never changes the parsed tree: the validator that resolves names,
  values and the item's attributes works on its own copy, and the other users only read it;
  errors are not kept, so invalid text is refused each time.
- **Validation passes.** Each of the ten passes over an update expression's tree rebuilt its
  table of node types for every node it visited; the types are now computed once per pass
  class. Safe because every pass's table has fixed keys (classes), only its values are bound
  methods.

Index queries still list the index whole: at the benchmark's sizes they are a small share.
"""

from __future__ import annotations

import copy
import inspect
import pickle
import types
from collections.abc import Callable
from typing import Any

from botocore.model import StructureShape
from moto.core.serialize import BaseJSONSerializer
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.parsing import validators as dynamodb_validators
from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser  # type: ignore[attr-defined]
from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]

_PATCHED = "_incentives_fast_dynamodb"

Slot = tuple[str, DynamoType, DynamoType | None]


def _shallow_tables_deepcopy(value: Any, memo: Any = None) -> Any:
    """``copy.deepcopy`` as moto's DynamoDB module sees it: a table is not copied (the
    transaction wrapper below saves the items it writes instead); everything else is."""
    if isinstance(value, Table):
        return value
    return copy.deepcopy(value, memo)


def _slot(backend: DynamoDBBackend, operation: dict[str, Any]) -> Slot | None:
    """The (table, hash, range) an operation of a transaction writes, if it can be told."""
    try:
        (kind, body), *_ = operation.items()
        table = backend.get_table(body["TableName"])
        attributes = body["Item"] if kind == "Put" else body["Key"]
        hash_value = DynamoType(attributes[table.hash_key_attr])
        range_value = DynamoType(attributes[table.range_key_attr]) if table.range_key_attr else None
    except Exception:  # an invalid operation: moto refuses it before writing anything for it
        return None
    return (table.name, hash_value, range_value)


def _restore(backend: DynamoDBBackend, saved: dict[Slot, Item | None]) -> None:
    for (table_name, hash_value, range_value), item in saved.items():
        table = backend.tables.get(table_name)
        if table is None:
            continue
        if item is None:
            table.delete_item(hash_value, range_value)
        elif range_value is not None:
            table.items[hash_value][range_value] = item
        else:
            table.items[hash_value] = item  # type: ignore[assignment]


def _transact_write_items(original: Callable[..., None]) -> Callable[..., None]:
    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        saved: dict[Slot, Item | None] = {}
        for operation in transact_items[:100]:
            slot = _slot(self, operation)
            if slot is not None and slot not in saved:
                saved[slot] = copy.deepcopy(self.tables[slot[0]].get_item(slot[1], slot[2]))
        try:
            original(self, transact_items)
        except BaseException:
            _restore(self, saved)
            raise

    return transact_write_items


def _partition_query(original: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(original)

    def query(self: Table, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs)
        hash_key = bound.arguments.get("hash_key")
        if bound.arguments.get("index_name") or hash_key is None:
            return original(self, *args, **kwargs)
        partition = self.items.get(hash_key)
        if partition is None:
            members: list[Item] = []
        elif isinstance(partition, Item):
            members = [partition]
        else:
            members = list(partition.values())
        self.all_items = types.MethodType(lambda _table: members, self)  # type: ignore[method-assign]
        try:
            return original(self, *args, **kwargs)
        finally:
            del self.all_items

    return query


_NODE_TYPES: dict[type, tuple[type, ...]] = {}


def _nodes_to_be_processed(self: Any) -> tuple[type, ...]:
    """The node types a validation pass rewrites, computed once per pass class (moto builds the
    pass's dictionary of bound methods again for every node of every update expression)."""
    kinds = _NODE_TYPES.get(type(self))
    if kinds is None:
        kinds = _NODE_TYPES[type(self)] = tuple(self._processing_map())
    return kinds


_PARSED: dict[str, Any] = {}
"""Update expression text -> its syntax tree, as moto's parser made it (never changed after)."""
_PICKLED: dict[int, tuple[Any, bytes]] = {}
"""id of a tree in ``_PARSED`` -> (the tree, the tree pickled): what the validator copies."""
_PARSED_AT_MOST = 4096


def _parse_once(original: Callable[[str], Any]) -> Callable[[Any, str], Any]:
    """``UpdateExpressionParser.make`` remembering the syntax tree of each expression text."""

    def make(cls: Any, expression: str) -> Any:
        tree = _PARSED.get(expression)
        if tree is None:
            tree = original(expression)  # an invalid text raises, and nothing is kept
            if len(_PARSED) >= _PARSED_AT_MOST:
                _PARSED.clear()
                _PICKLED.clear()
            _PARSED[expression] = tree
            _PICKLED[id(tree)] = (tree, pickle.dumps(tree, protocol=pickle.HIGHEST_PROTOCOL))
        return tree

    return make


def _copy_parsed(value: Any, memo: Any = None) -> Any:
    """``deepcopy`` as moto's validators see it: a tree kept by :func:`_parse_once` is copied by
    unpickling its saved bytes (several times faster than walking it); anything else is
    deep-copied."""
    saved = _PICKLED.get(id(value)) if memo is None else None
    if saved is not None and saved[0] is value:
        return pickle.loads(saved[1])  # noqa: S301 (bytes this module pickled itself)
    return copy.deepcopy(value, memo)


def _attribute_value_structure(original: Callable[..., None]) -> Callable[..., None]:
    def serialize_structure(
        self: BaseJSONSerializer, serialized: Any, value: Any, shape: StructureShape, key: str
    ) -> None:
        if shape.name != "AttributeValue" or not isinstance(value, dict) or len(value) != 1:
            return original(self, serialized, value, shape, key)
        (member_key,) = value
        member_shape = shape.members.get(member_key)
        if member_shape is None:
            return original(self, serialized, value, shape, key)
        wrapper: Any = self.MAP_TYPE() if key else serialized
        member_shape.parent = shape  # type: ignore[attr-defined]
        self._serialize_structure_member(wrapper, value, member_shape, member_key)
        if key:
            self._default_serialize(serialized, wrapper, shape, key)
        return None

    return serialize_structure


def install() -> None:
    """Patch moto's DynamoDB once per process (idempotent)."""
    if getattr(DynamoDBBackend, _PATCHED, False):
        return
    dynamodb_models.copy = types.SimpleNamespace(deepcopy=_shallow_tables_deepcopy)  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = _transact_write_items(  # type: ignore[method-assign]
        DynamoDBBackend.transact_write_items
    )
    Table.query = _partition_query(Table.query)  # type: ignore[method-assign]
    DepthFirstTraverser.nodes_to_be_processed = _nodes_to_be_processed
    UpdateExpressionParser.make = classmethod(_parse_once(UpdateExpressionParser.make))  # type: ignore[method-assign]
    dynamodb_validators.deepcopy = _copy_parsed  # type: ignore[attr-defined]
    BaseJSONSerializer._serialize_type_structure = _attribute_value_structure(  # type: ignore[method-assign]
        BaseJSONSerializer._serialize_type_structure
    )
    setattr(DynamoDBBackend, _PATCHED, True)

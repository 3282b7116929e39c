"""The affiliates area on the single table: :class:`TableAffiliates` reads records and commits
changes (``incentives.affiliates.ports``) in one transaction each, over the Table port."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from incentives.affiliates import ports
from incentives.affiliates.program import ProgramSettings
from incentives.core.clock import iso_utc
from incentives.levels.ports import Standing
from incentives.storage import keys as table_keys
from incentives.storage import level_items as level_storage
from incentives.storage.affiliates import keys
from incentives.storage.affiliates.records import (
    KEY_ATTRIBUTES,
    entry_count,
    merged_figures,
    record,
    writes_of,
)
from incentives.storage.ledger import LedgerRepository, balance_refusal
from incentives.storage.levels import TableLevelRepository
from incentives.storage.orders import StoredParts, order_writes, read_order
from incentives.storage.sharded import merged_all, merged_page
from incentives.storage.table import (
    MAX_TRANSACTION_ITEMS,
    ConditionFailed,
    Put,
    Table,
    Update,
    Write,
    query_all,
    query_iter,
)


def _settings(item: dict[str, Any] | None) -> ProgramSettings:
    return ProgramSettings.model_validate(item["value"]) if item else ProgramSettings()


class TableAffiliates:
    """:class:`incentives.affiliates.ports.AffiliateRepository` on the single table."""

    def __init__(self, table: Table) -> None:
        self._table = table
        self._ledger = LedgerRepository(table)
        self._levels = TableLevelRepository(table)
        self._parts = StoredParts()

    @property
    def levels(self) -> TableLevelRepository:
        return self._levels

    # --- one item ------------------------------------------------------------------------------

    def _get(self, key: dict[str, str]) -> ports.Record | None:
        return record(self._table.get(key))

    def settings(self, corp_id: str) -> ProgramSettings:
        return _settings(self._table.get(keys.settings_key(corp_id)))

    def save_settings(self, corp_id: str, settings: ProgramSettings, now: datetime) -> None:
        item = {
            **keys.settings_key(corp_id),
            "kind": "settings",
            "value": settings.model_dump(mode="json"),
            "updated_at": iso_utc(now),
        }
        self._table.transact([Put(item)])

    def profile(self, corp_id: str, affiliate_id: str) -> ports.Record | None:
        return self._get(keys.profile_key(corp_id, affiliate_id))

    def application(self, corp_id: str, customer_id: str) -> ports.Record | None:
        return self._get(keys.application_key(corp_id, customer_id))

    def store_application(self, corp_id: str, affiliate_id: str, store_id: str) -> ports.Record | None:
        return self._get(keys.store_application_key(corp_id, affiliate_id, store_id))

    def activity(self, corp_id: str, customer_id: str) -> ports.Record:
        return self._get(keys.activity_key(corp_id, customer_id)) or {}

    def bought(self, corp_id: str, customer_id: str, product_ids: Sequence[str]) -> frozenset[str]:
        return frozenset(
            product
            for product in product_ids
            if self._table.get(keys.bought_key(corp_id, customer_id, product)) is not None
        )

    def counted(self, corp_id: str, customer_id: str, source: str) -> bool:
        return self._table.get(keys.activity_marker_key(corp_id, customer_id, source)) is not None

    def binding(self, corp_id: str, customer_id: str) -> ports.Record | None:
        return self._get(keys.binding_key(corp_id, customer_id))

    def stats(self, corp_id: str, affiliate_id: str) -> ports.Record:
        return merged_figures(self._table.get_many(keys.stats_keys(corp_id, affiliate_id)))

    def day(self, corp_id: str, affiliate_id: str, day: str) -> ports.Record:
        return merged_figures(self._table.get_many(keys.day_keys(corp_id, affiliate_id, day)))

    def decision(self, corp_id: str, order_id: str) -> ports.Record | None:
        return self._get(keys.decision_key(corp_id, order_id))

    def share(self, corp_id: str, order_id: str, role: str) -> ports.Record | None:
        return self._get(keys.share_key(corp_id, order_id, role))

    def withdrawal(self, corp_id: str, withdrawal_id: str) -> ports.Record | None:
        return self._get(keys.withdrawal_key(corp_id, withdrawal_id))

    # --- listings ------------------------------------------------------------------------------

    def _listing(self, partition: str, index: str, newest_first: bool = True) -> list[ports.Record]:
        items = query_all(self._table, partition, index=index, newest_first=newest_first)
        return [{k: v for k, v in item.items() if k not in KEY_ATTRIBUTES} for item in items]

    def _tenant_listing(self, corp_id: str, name: str) -> list[ports.Record]:
        items = merged_all(
            self._table, keys.tenant_list_shards(corp_id, name), index="gsi2", newest_first=True
        )
        return [{k: v for k, v in item.items() if k not in KEY_ATTRIBUTES} for item in items]

    def _page(
        self,
        partitions: list[str],
        index: str,
        limit: int,
        cursor: str | None,
        keep: ports.Keep | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> ports.RecordPage:
        """A page of a listing (its shards merged, newest first), ``keep`` applied to records."""
        page = merged_page(
            self._table,
            partitions,
            index=index,
            limit=limit,
            cursor=cursor,
            newest_first=True,
            sk_at_least=since,
            # a sort key is <paid_at>#<id>: "$" sorts after every "#" of the last instant
            sk_at_most=None if until is None else f"{until}$",
            keep=None if keep is None else (lambda item: keep(record(item) or {})),
        )
        return ports.RecordPage([record(item) or {} for item in page.items], page.cursor)

    def affiliates(self, corp_id: str) -> list[ports.Record]:
        return self._tenant_listing(corp_id, "AFFILIATES")

    def affiliates_page(self, corp_id: str, limit: int, cursor: str | None) -> ports.RecordPage:
        return self._page(keys.tenant_list_shards(corp_id, "AFFILIATES"), "gsi2", limit, cursor)

    def applications(self, corp_id: str) -> list[ports.Record]:
        return self._tenant_listing(corp_id, "AFF_APPLICATIONS")

    def applications_page(
        self, corp_id: str, limit: int, cursor: str | None, keep: ports.Keep | None = None
    ) -> ports.RecordPage:
        return self._page(keys.tenant_list_shards(corp_id, "AFF_APPLICATIONS"), "gsi2", limit, cursor, keep)

    def store_applications(self, corp_id: str) -> list[ports.Record]:
        return self._tenant_listing(corp_id, "AFF_STORE_APPLICATIONS")

    def store_applications_page(
        self, corp_id: str, limit: int, cursor: str | None, keep: ports.Keep | None = None
    ) -> ports.RecordPage:
        partitions = keys.tenant_list_shards(corp_id, "AFF_STORE_APPLICATIONS")
        return self._page(partitions, "gsi2", limit, cursor, keep)

    def downline(self, corp_id: str, affiliate_id: str) -> list[ports.Record]:
        return self._listing(keys.own_list(corp_id, "AFF_DOWNLINE", affiliate_id), "gsi3")

    def customers(self, corp_id: str, affiliate_id: str) -> list[ports.Record]:
        return self._listing(keys.own_list(corp_id, "AFF_CUSTOMERS", affiliate_id), "gsi3")

    def shares(self, corp_id: str, beneficiary_id: str | None = None) -> list[ports.Record]:
        if beneficiary_id:
            return self._listing(keys.own_list(corp_id, "AFF_SHARES", beneficiary_id), "gsi3")
        return self._tenant_listing(corp_id, "AFF_SHARES")

    def shares_page(
        self, corp_id: str, beneficiary_id: str | None, query: ports.ShareQuery
    ) -> ports.RecordPage:
        if beneficiary_id:  # one affiliate's own partition: a listing of one shard
            partitions, index = [keys.own_list(corp_id, "AFF_SHARES", beneficiary_id)], "gsi3"
        else:
            partitions, index = keys.tenant_list_shards(corp_id, "AFF_SHARES"), "gsi2"
        return self._page(partitions, index, query.limit, query.cursor, query.keep, query.since, query.until)

    def share_totals(self, corp_id: str, first_day: str | None, last_day: str | None) -> ports.ShareTotals:
        found = {"records": 0, "commission_fen": 0, "net_fen": 0}
        prefix: str | None = None
        least: str | None = f"DAY#{first_day or ''}"
        most: str | None = f"DAY#{last_day or '9999'}#~"  # every item of the last day
        if first_day is None and last_day is None:  # all time: each shard's all-time items
            prefix, least, most = "ALL#", None, None
        for partition in keys.share_totals_partitions(corp_id):
            for item in query_iter(
                self._table, partition, sk_prefix=prefix, sk_at_least=least, sk_at_most=most
            ):
                for name in found:
                    found[name] += int(item.get(name, 0))
        return ports.ShareTotals(found["records"], found["commission_fen"], found["net_fen"])

    def unattributed(self, corp_id: str, customer_id: str) -> list[ports.Record]:
        partition = keys.own_list(corp_id, "AFF_UNATTRIBUTED", customer_id)
        return self._listing(partition, "gsi3", newest_first=False)

    def late_attributed(self, corp_id: str, customer_id: str) -> list[ports.Record]:
        partition = keys.own_list(corp_id, "AFF_LATE_ATTRIBUTED", customer_id)
        return self._listing(partition, "gsi3", newest_first=False)

    def withdrawals(self, corp_id: str, affiliate_id: str | None = None) -> list[ports.Record]:
        if affiliate_id:
            return self._listing(keys.own_list(corp_id, "AFF_WITHDRAWALS", affiliate_id), "gsi3")
        return self._tenant_listing(corp_id, "AFF_WITHDRAWALS")

    def withdrawals_page(
        self,
        corp_id: str,
        affiliate_id: str | None,
        limit: int,
        cursor: str | None,
        keep: ports.Keep | None = None,
    ) -> ports.RecordPage:
        if affiliate_id:
            partitions, index = [keys.own_list(corp_id, "AFF_WITHDRAWALS", affiliate_id)], "gsi3"
        else:
            partitions, index = keys.tenant_list_shards(corp_id, "AFF_WITHDRAWALS"), "gsi2"
        return self._page(partitions, index, limit, cursor, keep)

    def withdrawals_by_status_page(
        self, corp_id: str, status: str, limit: int, cursor: str | None
    ) -> ports.RecordPage:
        partitions = table_keys.listing_partitions(table_keys.withdrawals_by_status(corp_id, status))
        index = table_keys.WITHDRAWAL_STATUS_INDEX
        page = merged_page(
            self._table, partitions, index=index, limit=limit, cursor=cursor, newest_first=True
        )
        found = self._table.get_many([{"pk": item["pk"], "sk": item["sk"]} for item in page.items])
        # the index projects keys only: the withdrawals of the page in one BatchGetItem, in order
        return ports.RecordPage(
            [record(item) or {} for item in found if item and "withdrawal_id" in item], page.cursor
        )

    # --- order.paid in two reads ---------------------------------------------------------------

    def payment_context(
        self, corp_id: str, order_id: str, customer_id: str, source_id: str | None, level_source: str
    ) -> ports.PaymentContext:
        found = self._table.get_many(
            [
                table_keys.order_key(corp_id, order_id),
                keys.decision_key(corp_id, order_id),
                keys.settings_key(corp_id),
                keys.profile_key(corp_id, customer_id),
                keys.binding_key(corp_id, customer_id),
                keys.activity_marker_key(corp_id, customer_id, f"order:{order_id}"),
                level_storage.settings_key(corp_id),
                level_storage.state_key(corp_id, customer_id),
                level_storage.source_key(corp_id, level_source),
                *([keys.profile_key(corp_id, source_id)] if source_id else []),
            ]
        )
        stored, decided, settings, buyer, binding, counted, levels, standing, figures = found[:9]
        return ports.PaymentContext(
            order=read_order(self._table, stored, self._parts) if stored else None,
            decided=decided is not None,
            settings=_settings(settings),
            buyer=record(buyer),
            binding=record(binding),
            counted=counted is not None,
            levels=level_storage.stored_levels_from_item(levels),
            buyer_standing=level_storage.standing_from_item(corp_id, customer_id, standing),
            level_figures_seen=figures is not None,
            source=record(found[9]) if source_id else None,
        )

    def order_context(
        self, corp_id: str, order_id: str, roles: Sequence[str], level_source: str
    ) -> ports.OrderContext:
        found = self._table.get_many(
            [
                table_keys.order_key(corp_id, order_id),
                keys.decision_key(corp_id, order_id),
                keys.settings_key(corp_id),
                level_storage.source_key(corp_id, level_source),
                *(keys.share_key(corp_id, order_id, role) for role in roles),
            ]
        )
        stored, decision, settings, figures = found[:4]
        shares = {role: record(item) for role, item in zip(roles, found[4:], strict=True)}
        return ports.OrderContext(
            order=read_order(self._table, stored, self._parts) if stored else None,
            decision=record(decision),
            shares={role: share for role, share in shares.items() if share is not None},
            settings=_settings(settings),
            level_figures=level_storage.applied_source_from_item(figures),
        )

    def promoters(
        self, corp_id: str, affiliate_ids: Sequence[str], standing_of: str | None
    ) -> tuple[dict[str, ports.Record | None], Standing | None]:
        got = self._table.get_many(
            [
                *(keys.profile_key(corp_id, who) for who in affiliate_ids),
                *([level_storage.state_key(corp_id, standing_of)] if standing_of else []),
            ]
        )
        profiles = {who: record(item) for who, item in zip(affiliate_ids, got, strict=False)}
        standing = level_storage.standing_from_item(corp_id, standing_of, got[-1]) if standing_of else None
        return profiles, standing

    # --- the unit of work ----------------------------------------------------------------------

    def commit(self, corp_id: str, changes: Sequence[ports.Change]) -> None:
        # Postings go first: a repeat of their entries fails there and names them.
        ordered = sorted(changes, key=lambda change: not isinstance(change, ports.Posted))
        writes: list[Write] = []
        owners: list[ports.Change] = []
        entries: set[int] = set()
        saved: list[tuple[str, int, list[str]]] = []
        for change in ordered:
            own: list[Write]
            if isinstance(change, ports.OrderSaved):  # with the parts it adds (large ones first)
                puts, names = order_writes(self._table, change.state, change.expected_version, self._parts)
                saved.append((puts[-1].item["pk"], change.state.version, names))
                own = list(puts)
            else:
                own = writes_of(corp_id, change, self._ledger)
            entries.update(range(len(writes), len(writes) + entry_count(change)))
            for write in own:
                if not _added_into(writes, write):
                    writes.append(write)
                    owners.append(change)
        if not writes:
            return
        if len(writes) > MAX_TRANSACTION_ITEMS:
            raise ports.TooLarge(f"{len(writes)} writes do not fit one transaction")
        written = [(w.item if isinstance(w, Put) else w.key) for w in writes]
        if len({(key["pk"], key["sk"]) for key in written}) < len(written):
            raise ports.TooLarge("several writes to one item do not fit one transaction")
        try:
            self._table.transact(writes)
        except ConditionFailed as failure:
            if not entries.intersection(failure.failed):
                refusal = balance_refusal(writes, failure.failed)
                if refusal is not None:
                    raise refusal from failure
            failed: list[ports.Change] = []
            for position in failure.failed:
                if not any(owners[position] is seen for seen in failed):
                    failed.append(owners[position])
            raise ports.Stale(failed) from failure
        for partition, version, names in saved:
            self._parts.remember(partition, version, names)


def _added_into(writes: list[Write], write: Write) -> bool:
    """Fold a pure counter update (``ADD`` only, no condition) into an earlier one on the same item:
    DynamoDB refuses two operations on one item in a transaction, and additions commute (two shares
    of one order move the same totals item). Whether it was folded."""
    if not isinstance(write, Update) or write.conditions or write.remove:
        return False
    for position, earlier in enumerate(writes):
        if (
            isinstance(earlier, Update)
            and earlier.key == write.key
            and not earlier.conditions
            and not earlier.remove
            and all(earlier.set.get(name, value) == value for name, value in write.set.items())
        ):
            added = dict(earlier.add)
            for name, amount in write.add.items():
                added[name] = added.get(name, 0) + amount
            writes[position] = Update(earlier.key, add=added, set={**earlier.set, **write.set})
            return True
    return False

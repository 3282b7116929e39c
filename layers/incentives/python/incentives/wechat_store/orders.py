"""What ``channels/ec/order/get`` and ``channels/ec/aftersale/getaftersaleorder`` answer, read
tolerantly: unknown fields are ignored, missing ones take a neutral default, ids that arrive as
JSON numbers become strings. Only the fields the connector uses are modelled (README, "WeChat
Store connector", lists them with their sources)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class StoreModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)


class SourceInfo(StoreModel):
    """``order_detail.source_infos[]``: the account that brought the SKU's sale."""

    sku_id: str = ""
    sale_channel: int | None = None
    account_type: int | None = None
    account_id: str = ""
    account_nickname: str = ""
    content_type: int | None = None
    content_id: str = ""
    promoter_head_supplier_id: str = ""
    original_id: str = ""


class SharerInfo(StoreModel):
    """``order_detail.sharer_info``: the order's sharer; ``handling_progress`` 0 = still parsing (解析中)."""

    sharer_openid: str = ""
    sharer_unionid: str = ""
    sharer_type: int | None = None
    share_scene: int | None = None
    handling_progress: int | None = None


class SkuSharerInfo(StoreModel):
    """``order_detail.sku_sharer_infos[]``: the sharer per SKU, with ``from_wecom``."""

    sku_id: str = ""
    sharer_openid: str = ""
    sharer_unionid: str = ""
    sharer_type: int | None = None
    share_scene: int | None = None
    from_wecom: bool = False


class ExtInfo(StoreModel):
    finder_id: str = ""
    live_id: str = ""
    order_scene: int | None = None
    commission_handling_progress: int | None = None
    confirm_receipt_time: int | None = None


class CommissionInfo(StoreModel):
    """``order_detail.commission_infos[]``: a share of the sale paid to a promoter (达人 / 带货机构)."""

    sku_id: str = ""
    type: int | None = None
    status: int | None = None
    amount: int = 0
    finder_id: str = ""
    talent_id: str = ""
    agency_id: str = ""


class SettleInfo(StoreModel):
    """``order_detail.settle_info``: the technical service fee, predicted and (once settled) actual."""

    predict_commission_fee: int | None = None
    commission_fee: int | None = None
    settle_time: int | None = None


class ProductInfo(StoreModel):
    product_id: str = ""
    sku_id: str = ""
    sku_cnt: int = Field(default=1, ge=0)
    sale_price: int = Field(default=0, ge=0)
    real_price: int | None = None
    estimate_price: int | None = None
    deduction_price: int = 0
    product_unique_id: str = ""
    title: str = ""


class PayInfo(StoreModel):
    pay_time: int | None = None
    transaction_id: str = ""


class PriceInfo(StoreModel):
    order_price: int = 0
    freight: int = 0


class OrderDetail(StoreModel):
    product_infos: list[ProductInfo] = []
    price_info: PriceInfo = PriceInfo()
    pay_info: PayInfo = PayInfo()
    ext_info: ExtInfo = ExtInfo()
    commission_infos: list[CommissionInfo] = []
    sharer_info: SharerInfo | None = None
    sku_sharer_infos: list[SkuSharerInfo] = []
    source_infos: list[SourceInfo] = []
    settle_info: SettleInfo = SettleInfo()


class StoreOrder(StoreModel):
    order_id: str
    status: int
    openid: str = ""
    unionid: str = ""
    create_time: int = 0
    update_time: int = 0
    order_detail: OrderDetail = OrderDetail()


class AfterSaleProduct(StoreModel):
    product_id: str = ""
    sku_id: str = ""
    count: int = 0


class AfterSaleRefund(StoreModel):
    amount: int = 0


class AfterSaleOrder(StoreModel):
    after_sale_order_id: str
    order_id: str
    status: str = ""
    update_time: int = 0
    product_info: AfterSaleProduct = AfterSaleProduct()
    refund_info: AfterSaleRefund = AfterSaleRefund()

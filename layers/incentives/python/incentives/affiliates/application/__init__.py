"""Becoming an affiliate, pure rules (seed 001 §2.2, SPEC §4.4).

A merchant chooses how customers become affiliates (``auto``: meeting the conditions and
completing the form is enough; ``apply``: the customer applies, then a review decides), the
conditions (seven kinds, matched ``all``, ``any`` or ``none``), and the application form
(five default fields and up to 30 custom ones):

- :mod:`.conditions`: the modes, the conditions, whether a customer's activity meets them
  (:func:`evaluate`) and the decision on an application (:func:`decide`);
- :mod:`.form`: the form and pages; settings read from a request go through
  :func:`parse_settings`, which reports the first bad setting as :class:`InvalidInput` with a
  dotted path (``form.custom_fields.2.label``); building the models directly raises pydantic's
  ``ValidationError`` instead;
- :mod:`.answers`: :func:`validate_answers`, whose errors name ``answers.<key>``;
- :mod:`.masking`: mobiles and ID numbers are personal data: pass answers through
  :func:`masked_answers` before they reach an API answer or a log.
"""

from incentives.affiliates.application.answers import id_card_check_digit, validate_answers
from incentives.affiliates.application.conditions import (
    BecomeMode,
    BoughtProducts,
    Condition,
    ConsumptionAmount,
    ConsumptionCount,
    CustomerActivity,
    Decision,
    Eligibility,
    FollowedOfficialAccount,
    Identity,
    Match,
    RechargeAmount,
    RechargeCount,
    ReviewMode,
    decide,
    evaluate,
)
from incentives.affiliates.application.form import (
    ApplicationForm,
    ApplicationSettings,
    CascadeOption,
    CustomField,
    DefaultField,
    FieldSwitch,
    FieldType,
    ReviewPage,
    parse_settings,
)
from incentives.affiliates.application.masking import mask_id_card, mask_mobile, masked_answers

__all__ = [
    "ApplicationForm",
    "ApplicationSettings",
    "BecomeMode",
    "BoughtProducts",
    "CascadeOption",
    "Condition",
    "ConsumptionAmount",
    "ConsumptionCount",
    "CustomField",
    "CustomerActivity",
    "Decision",
    "DefaultField",
    "Eligibility",
    "FieldSwitch",
    "FieldType",
    "FollowedOfficialAccount",
    "Identity",
    "Match",
    "RechargeAmount",
    "RechargeCount",
    "ReviewMode",
    "ReviewPage",
    "decide",
    "evaluate",
    "id_card_check_digit",
    "mask_id_card",
    "mask_mobile",
    "masked_answers",
    "parse_settings",
    "validate_answers",
]

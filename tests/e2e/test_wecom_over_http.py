"""WeCom callbacks through the running local gateway."""

from __future__ import annotations

import pytest
import requests

from tests.e2e.conftest import RunningStack
from tests.unit.test_wecom_crypto import ECHOSTR, POST_ENCRYPT

pytestmark = pytest.mark.e2e


def test_tencents_vectors_pass_through_the_gateway(running_stack: RunningStack) -> None:
    verified = requests.get(
        f"{running_stack.api_url}/wecom/callback",
        timeout=10,
        params={
            "corp_id": "wx5823bf96d3bd56c7",
            "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
            "timestamp": "1409659589",
            "nonce": "263014780",
            "echostr": ECHOSTR,
        },
    )
    assert verified.status_code == 200 and verified.text == "1616140317555161061"
    assert verified.headers["Content-Type"].startswith("text/plain")
    body = (
        f"<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[{POST_ENCRYPT}]]>"
        "</Encrypt><AgentID><![CDATA[218]]></AgentID></xml>"
    )
    query = {
        "msg_signature": "477715d11cdb4164915debcba66cb864d751f3e6",
        "timestamp": "1409659813",
        "nonce": "1372623149",
    }
    accepted = requests.post(
        f"{running_stack.api_url}/wecom/callback", params=query, data=body.encode(), timeout=10
    )
    assert accepted.status_code == 200 and accepted.text == "success"
    tampered = requests.post(
        f"{running_stack.api_url}/wecom/callback",
        data=body.encode(),
        timeout=10,
        params=dict(query, msg_signature="0" * 40),
    )
    assert tampered.status_code == 401

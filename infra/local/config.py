"""Local settings: environment variables with working defaults (listed in the README)."""

from __future__ import annotations

import os
from dataclasses import dataclass

ACCOUNT_ID = "123456789012"


@dataclass(frozen=True)
class LocalConfig:
    host: str
    api_port: int
    aws_port: int
    region: str
    stack_name: str
    corp_id: str
    callback_token: str
    encoding_aes_key: str
    order_webhook_secret: str
    queue_visibility_timeout: int | None
    scheduler_enabled: bool
    poll_wait_seconds: int

    @classmethod
    def from_env(cls) -> LocalConfig:
        env = os.environ
        visibility = env.get("LOCAL_QUEUE_VISIBILITY_TIMEOUT")
        return cls(
            host=env.get("LOCAL_HOST", "127.0.0.1"),
            api_port=int(env.get("LOCAL_API_PORT", "3000")),
            aws_port=int(env.get("LOCAL_AWS_PORT", "4566")),
            region=env.get("AWS_REGION", env.get("AWS_DEFAULT_REGION", "ap-southeast-1")),
            stack_name=env.get("LOCAL_STACK_NAME", "incentives-local"),
            corp_id=env.get("WECOM_CORP_ID", "ww-local-corp"),
            callback_token=env.get("WECOM_CALLBACK_TOKEN", "local-callback-token"),
            encoding_aes_key=env.get("WECOM_ENCODING_AES_KEY", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"),
            order_webhook_secret=env.get("ORDER_WEBHOOK_SECRET", "local-order-webhook-secret"),
            queue_visibility_timeout=int(visibility) if visibility else None,
            scheduler_enabled=env.get("LOCAL_SCHEDULER", "on").lower() not in {"off", "0", "false"},
            poll_wait_seconds=int(env.get("LOCAL_POLL_WAIT_SECONDS", "1")),
        )

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.aws_port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    def tenant_secrets(self) -> dict[str, dict[str, str]]:
        """The tenant secret document seeded into the local Secrets Manager."""
        return {
            self.corp_id: {
                "order_webhook_secret": self.order_webhook_secret,
                "wecom_callback_token": self.callback_token,
                "wecom_encoding_aes_key": self.encoding_aes_key,
            }
        }

    def aws_environment(self) -> dict[str, str]:
        """What every boto3 client in the process needs to talk to the embedded endpoint."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

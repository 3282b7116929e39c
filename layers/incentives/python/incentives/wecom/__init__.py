"""WeCom: the callback protocol (crypto, parsing) and the API client. What its events mean for us
is in ``incentives.contacts`` (customers) and ``incentives.org`` (the organization)."""

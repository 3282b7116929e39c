"""WeCom: the callback protocol, the API client, and what their events mean for us."""

"""Sign-in (SPEC §3.3): WeCom members and mini-program customers get access and refresh tokens."""

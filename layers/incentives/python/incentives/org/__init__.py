"""The organization from WeCom: departments, outlets (leaf departments), guides, data nodes."""

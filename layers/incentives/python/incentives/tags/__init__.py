"""Customer tags (seed 002): groups and tags, guide visibility, WeCom import, segments."""

"""Guide incentive programs (seed 000): settings, rules with versions, rewards, records."""

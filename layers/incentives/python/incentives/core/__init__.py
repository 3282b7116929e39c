"""Pure building blocks shared by every domain area: money, time, errors, input parsing, access."""

"""Pure building blocks shared by every domain area: money, time, ids and errors."""

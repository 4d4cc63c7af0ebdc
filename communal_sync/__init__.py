"""communal-sync: keep Communal user profiles in step with an organization's system of record."""

__version__ = "0.1.0"

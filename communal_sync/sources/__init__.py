"""Sources: reading an export file into raw rows, each with its line number.

``open_source(path)`` sniffs the format (CSV with any common delimiter, JSON array or
``{"data": [...]}``, JSON Lines) and the encoding (UTF-8 with or without BOM, UTF-16,
cp1252), keeps every value as text, and streams: memory does not grow with the file.
``-`` reads standard input. A new input format is one more reader module here, chosen in
``source.open_source``.
"""

from communal_sync.sources.rows import SourceRow
from communal_sync.sources.source import STDIN_NAME, Source, open_source

__all__ = ["STDIN_NAME", "Source", "SourceRow", "open_source"]

"""leadlink: resolve who is behind every driver-acquisition lead."""

__version__ = "0.1.0"

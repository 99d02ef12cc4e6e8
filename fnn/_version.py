"""fnn's version, alone in a module so that fnn.io can write it into files without importing fnn itself."""

__version__ = "0.1.0"

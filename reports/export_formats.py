"""The formats ``streambench export`` writes: apart from :mod:`reports.export`, so the command line
lists them without importing pandas (``--help`` stays fast)."""

FORMATS = ("parquet", "csv", "pytest-benchmark")

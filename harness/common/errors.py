"""Errors the command line turns into one clear line and exit status 2."""


class UsageError(Exception):
    """Bad input from the user: a value, a file or a combination that cannot run.

    The CLI prints ``streambench: error: <message>`` and exits 2; never a traceback.
    """

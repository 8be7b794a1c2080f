"""One exception type for problems the user can fix: shown as a single line, never a traceback."""


class UserInputError(Exception):
    """Bad input or state that the user can correct; the message is one line, shown as is."""

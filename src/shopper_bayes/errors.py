"""The one exception type for problems a user can fix (bad input, bad config, bad paths)."""


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters escaped, so it prints as one line.

    Messages quote file names, column names and data values, which may contain anything.
    """
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in str(text))


class UserError(Exception):
    """A problem with the user's input, shown as one line: ``error: <where>: <what>; <todo>``.

    ``where`` names the file, column or config key; ``what`` says what is wrong; ``todo`` says
    what to do about it.
    """

    def __init__(self, where: str, what: str, todo: str):
        self.where, self.what, self.todo = str(where), what, todo
        super().__init__(self.line())

    def __reduce__(self):  # pickled by value, so it crosses from a worker process intact
        return type(self), (self.where, self.what, self.todo)

    def line(self) -> str:
        return one_line(f"error: {self.where}: {self.what}; {self.todo}")


class MissingColumn(UserError):
    """The data lack a column an analysis needs. The runner skips that analysis with this line, unless
    the run has nothing else to do: other analyses of the same data are not held back."""

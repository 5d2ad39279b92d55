"""The identity platform's error value, shared by the token endpoint modules."""


class IdentityError(Exception):
    """An error the token endpoint reports as JSON (docs/wire.md §1.5)."""

    def __init__(self, status, error, code, text, suberror=None):
        super().__init__(text)
        self.status = status
        self.error = error
        self.code = code
        self.text = text
        self.suberror = suberror


def missing(name):
    return IdentityError(400, "invalid_request", 900144,
                         "The request body must contain the following parameter: '%s'." % name)

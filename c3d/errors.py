"""Errors meant for the user: the CLI prints them as one line on stderr and exits non-zero."""


class C3DError(Exception):
    """A problem with the user's input (a file, an option), stated in one line.

    The message names the file and what is wrong with it, e.g.
    ``models/x.caffemodel: truncated (ends inside layer conv3a)``.
    """

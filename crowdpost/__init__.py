"""crowdpost: the messaging and rewards desk of a crowdsourcing platform.

It speaks the Toloka API wire format, so the official `toloka-kit` client works
against it unchanged.
"""

__version__ = "0.1.0"

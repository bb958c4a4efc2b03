"""Keep credentials out of what pipetask-lite prints and writes.

A butler config can be a URI with a password (``postgresql://user:pw@host/db``)
or a signed S3 URL; error messages, log lines, ``--summary`` files and
``--explain`` scripts show ``***`` in their place.
"""

from __future__ import annotations

__all__ = ("RedactingFilter", "redact")

import logging
import re

# user:password@ in any URL.
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s'\"]*):(?P<secret>[^@/\s'\"]+)@")
# Secrets passed as query parameters or key=value settings (signed URLs, DSNs).
_KEYVALUE = re.compile(
    r"(?i)(?P<key>\b(?:x-amz-credential|x-amz-signature|x-amz-security-token|awsaccesskeyid|signature"
    r"|aws_secret_access_key|aws_access_key_id|aws_session_token|password|passwd|pwd|secret|token)=)"
    r"(?P<secret>[^&\s'\";]+)"
)


def redact(text: str) -> str:
    """Return ``text`` with passwords, keys and tokens in URLs replaced by ``***``."""
    return _KEYVALUE.sub(r"\g<key>***", _USERINFO.sub(r"\g<scheme>\g<user>:***@", text))


class RedactingFilter(logging.Filter):
    """A handler filter that redacts every formatted log message."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the record's message by its redacted form; never drops a record."""
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True

"""Where runtime alerts are posted: the synchronizer's fixed path and the URL helper."""

from __future__ import annotations

from stressgen.errors import ConfigError

RUNTIME_ALERTS_PATH = "/apis/v1/kubescape.io/v1/runtimealerts"
"""Path of the synchronizer's runtime-alert endpoint."""

ALERTS_SUFFIX = "/v1/runtimealerts"
"""What node-agent appends to its configured base (``.../apis/v1/kubescape.io``)."""


def alerts_url(base: str, field: str = "url") -> str:
    """Return the URL to post alerts to, given either node-agent's base or the full URL.

    A trailing slash is dropped, then ``/v1/runtimealerts`` is appended unless the URL
    already ends with it: ``http://h:8089/apis/v1/kubescape.io/`` and
    ``http://h:8089/apis/v1/kubescape.io/v1/runtimealerts`` both give the latter; a URL
    with no path at all (``http://h:8089``) gets the whole synchronizer path.
    Raises :class:`~stressgen.errors.ConfigError` (naming ``field``) unless ``base`` is an
    http:// or https:// URL.
    """
    url = base.strip()
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest.strip("/"):
        raise ConfigError(
            field,
            base,
            "an http:// or https:// URL like http://localhost:8089/apis/v1/kubescape.io",
        )
    url = url.rstrip("/")
    if url.endswith(ALERTS_SUFFIX):
        return url
    if "/" not in url.partition("://")[2]:  # only scheme://host[:port]: the whole path
        return url + RUNTIME_ALERTS_PATH
    return url + ALERTS_SUFFIX

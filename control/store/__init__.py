"""The control plane's durable state (skeleton; filled in by the following commits)."""


def open_store(url: str, **kwargs):
    raise NotImplementedError

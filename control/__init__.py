"""mediacore's control plane: the REST API, accounts, store, status callbacks, metering, XML,
configuration and the `mediacore` command (daemon and demo), on top of `mediacore.engine`'s
public API only."""

"""A plugin module that raises KeyboardInterrupt while it is imported (as a stray Ctrl-C handler might)."""

raise KeyboardInterrupt("raised by the plugin, not by the user")

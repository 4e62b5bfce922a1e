"""The `tunnel` command: the agent (`tunnel http PORT`) and token issuing (`tunnel token`)."""

"""Background work that runs on its own schedule, in a thread of the
portal: it may use every other room; nothing in the services imports it."""

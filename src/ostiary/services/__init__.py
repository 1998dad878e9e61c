"""The rules. The CLI, the JSON API and the web pages call only these
functions; none of them holds a rule of its own."""

"""What an operator sees of a running Ostiary: structured log events with a
request id (logs.py), and one metrics view across every worker on a
listener of the operator's choosing (metrics.py). docs/operations.md says
what each event and metric means."""

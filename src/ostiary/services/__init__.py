"""The service layer. The CLI, the JSON API and the web pages call only these
functions; none of them holds a rule of its own. Four rooms, each importing
only the ones below it (tests/unit/test_layering.py):

- jobs/     background work: the domain re-verifier thread.
- queries/  read models: the admin pages' and API's lists and details
            (pages.py), the overview, the audit log, proxy snippets, the
            sign-in doctor.
- rules/    the rules of each entity, the only code that changes state:
            users, groups, apps, domains, tenants, sessions, keys, ...,
            and the mail they send.
- base/     what every room shares: the actor, errors, text rules, input
            limits, paging, password hashing, single-use tokens, the
            database clock and reachability, the notification hook.

Nothing is imported here: `import ostiary.services` loads no room."""

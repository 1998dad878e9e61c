"""Read models: what the admin pages, the API and the CLI read and show.
They import rules/ and base/, never jobs/."""

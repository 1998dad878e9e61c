"""The rules of each entity: the only services that change state. They import
base/ and each other, never queries/ or jobs/."""

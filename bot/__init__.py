"""nightshift: incident-ops Slack bot."""

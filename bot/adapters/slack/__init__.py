"""Slack adapter: Bolt listeners, Block Kit rendering, identity lookups and the outbox sender."""

"""Fakes at the process boundary: a Slack Web API server and Slack request signing."""

"""Command groups, one module per concept; each registers its commands on ``clikit.app``."""

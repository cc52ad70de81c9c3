"""Command groups, one module per concept. Each defines its commands (and its own sub-apps);
``cli/main.py`` registers them on the app, all in one place."""

"""The Flask server (app factory, blueprints, jobs, store); built by the viewer issue."""

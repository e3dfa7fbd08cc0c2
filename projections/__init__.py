"""Caseline's read side: views rebuilt from the event log, the projector that keeps them
current, and the queries over them. Views import only the events' topics and fields."""

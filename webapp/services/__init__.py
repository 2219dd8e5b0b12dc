"""Business logic over ``db.session``: plain values in, models out or a domain error raised."""

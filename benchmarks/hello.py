"""The reference: a bare Flask "hello" app under the same gunicorn settings."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    """The least a Flask page can do."""
    return "Hello, world!"

"""Shared form pieces: shape checks every form applies, and the body check before them."""

from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import unquote_to_bytes

from flask import request
from flask_wtf import FlaskForm
from werkzeug.exceptions import UnsupportedMediaType
from wtforms import Field
from wtforms.validators import ValidationError

from webapp.errors import FileInForm, UnreadableForm
from webapp.headers import SAFE_METHODS

REPLACEMENT_CHARACTER = "\ufffd"


class ReadableText:
    """Reject control characters and bytes that were not valid UTF-8.

    No field here needs NUL or line breaks, and Werkzeug turns undecodable bytes into
    U+FFFD, which would otherwise be stored silently as part of an address or password.
    """

    def __call__(self, form: FlaskForm, field: Field) -> None:
        text = field.data
        if not text:
            return
        if REPLACEMENT_CHARACTER in text:
            raise ValidationError("Some characters could not be read. Type them again.")
        if any(unicodedata.category(c) == "Cc" for c in text):
            raise ValidationError("Remove the control characters (such as line breaks).")


class Repeats:
    """The field repeats the ``other`` field (a password typed twice).

    Silent while the other field is empty: its own "required" says what to do, and a
    "do not match" beside this field as well would only confuse.
    """

    def __init__(self, other: str, message: str) -> None:
        self.other = other
        self.message = message

    def __call__(self, form: FlaskForm, field: Field) -> None:
        other = form[self.other].data
        if other and field.data != other:
            raise ValidationError(self.message)


class Form(FlaskForm):
    """A Flask-WTF form that refuses a field sent more than once instead of guessing."""

    def validate(self, extra_validators: Any = None) -> bool:
        """Validate as usual, then flag any field that arrived more than once."""
        valid = super().validate(extra_validators=extra_validators)
        if request.method != "POST":
            return valid
        for field in self:
            if len(request.form.getlist(field.name)) > 1:
                field.errors = [*field.errors, "Send this field only once."]
                valid = False
        return valid


def require_form_body() -> None:
    """Refuse a body that is not a form as a browser sends it, before anything reads it.

    Flask-WTF reads a JSON body as form data, and files as field values: numbers, objects,
    lone surrogates and uploads would reach validators and services that expect text. So a
    write carries an urlencoded or multipart form, without files, in UTF-8, or nothing at all.
    The body is capped by MAX_CONTENT_LENGTH.
    """
    if request.method in SAFE_METHODS or request.endpoint is None:
        return  # nothing reads the body: a safe method, or a 404 or 405 on its way
    if request.mimetype == "application/x-www-form-urlencoded":
        _reject_undecodable_urlencoded()
    elif request.mimetype == "multipart/form-data":
        _reject_files_and_undecodable_parts()
    elif request.mimetype or request.content_length or "Transfer-Encoding" in request.headers:
        raise UnsupportedMediaType()


def _reject_undecodable_urlencoded() -> None:
    # Werkzeug keeps undecodable bytes as literal "%FF" text, which would pass as a valid
    # (but wrong) email address or password.
    body = request.get_data(cache=True)  # cached, so the form is parsed from it later
    # Decoding the whole body is enough: "&", "=" and "+" are ASCII, so no byte sequence that
    # is valid UTF-8 as a whole is invalid split at them, nor the other way round.
    try:
        unquote_to_bytes(body).decode()
    except UnicodeDecodeError:
        raise UnreadableForm() from None


def _reject_files_and_undecodable_parts() -> None:
    # Parsed here and kept on the request, so CSRFProtect and the forms read the same fields.
    if request.files:
        raise FileInForm()
    # Werkzeug decodes each part with errors="replace": undecodable bytes became U+FFFD.
    for name, value in request.form.items(multi=True):
        if REPLACEMENT_CHARACTER in name or REPLACEMENT_CHARACTER in value:
            raise UnreadableForm()

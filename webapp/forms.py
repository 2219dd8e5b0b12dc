"""Shared form pieces: shape checks every form applies."""

from __future__ import annotations

import unicodedata
from typing import Any

from flask import request
from flask_wtf import FlaskForm
from wtforms import Field
from wtforms.validators import ValidationError


class NoControlCharacters:
    """Reject NUL, line breaks and other control characters, which no field here needs."""

    def __call__(self, form: FlaskForm, field: Field) -> None:
        if any(unicodedata.category(c) == "Cc" for c in field.data or ""):
            raise ValidationError("Remove the control characters (such as line breaks).")


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

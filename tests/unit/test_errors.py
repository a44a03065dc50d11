from services.common.errors import flatten_messages


def test_nested_messages_become_dotted_paths():
    messages = {
        "requester": {"email": ["Not a valid email address."]},
        "subject": ["Missing data for required field."],
        "fields": {"room": {"_schema": ["Bad."]}},
    }
    assert flatten_messages(messages) == {
        "requester.email": ["Not a valid email address."],
        "subject": ["Missing data for required field."],
        "fields.room": ["Bad."],
    }


def test_top_level_schema_errors_keep_their_key():
    assert flatten_messages({"_schema": ["Invalid input type."]}) == {
        "_schema": ["Invalid input type."]
    }

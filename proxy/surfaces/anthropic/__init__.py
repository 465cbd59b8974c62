"""The Anthropic-compatible surface (`/v1/messages`): decode.py reads Messages bodies into the
unified ChatRequest, encode.py writes messages and their event streams, errors.py Anthropic's
error shape, handlers.py the route."""

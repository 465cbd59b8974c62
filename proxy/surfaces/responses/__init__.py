"""The Responses API surface (`/v1/responses`): decode, encode, the store of answers, handlers."""

"""The OpenAI-compatible surface (`/v1/chat/completions`, `/v1/embeddings`, `/v1/models`, also under
`/models/v2/openai/v1/`): decode.py reads request bodies into the unified requests, encode.py
writes completions, chunks and embedding lists, errors.py OpenAI's error shape, handlers.py the
routes; ../intake.py holds what every compatible surface does before it speaks its wire."""

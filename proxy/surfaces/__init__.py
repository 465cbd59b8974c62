"""Surfaces: decoders of client bodies into ChatRequest and encoders of StreamEvents."""

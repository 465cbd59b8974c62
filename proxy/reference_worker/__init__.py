"""`unigate worker`: a separate program, a reference worker serving a real embedding
model on the CPU in the openai protocol. The gateway never imports it.
"""

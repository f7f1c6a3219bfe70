"""LLM agents: a doctor (three reply protocols), a patient actor, a measurement reader and a
judge, each driven by any `ChatModel`, with every model call recorded as a `ModelCalled` event.

Declared as the `llm` factory of every role (module `factories`), so any model address
(`openai/NAME`, `hf/ORG/NAME`, `replay/RUN`) can play any role.
"""

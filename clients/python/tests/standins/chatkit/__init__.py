"""Test stand-in for the ChatKit SDK (``openai-chatkit`` 1.6.5), which cannot be installed here.

``chatkit.store``, ``chatkit.types`` and a few of ``chatkit.widgets``, with ChatKit's names,
signatures, defaults and JSON shapes (tests/test_chatkit_shapes.py checks the JSON against
what the real 1.6.5 writes). Built on pydantic 2 when it is importable, else on a look-alike
(``_model``). tests/conftest.py puts this folder on ``sys.path`` only when the real package is
not importable.
"""

STANDIN = True

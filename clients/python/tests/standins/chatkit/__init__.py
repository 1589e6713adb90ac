"""Test stand-in for the ChatKit SDK (``openai-chatkit`` 1.6), which cannot be installed here.

Only ``chatkit.store`` and ``chatkit.types``, with the names, signatures and JSON shapes that
threadstore_chatkit uses. tests/conftest.py puts this folder on ``sys.path`` only when the real
package is not importable.
"""

STANDIN = True

"""The live diagnosis inside training loops: ``fit``'s own (:mod:`.fit`), and Keras'
(:mod:`.keras`), Lightning's (:mod:`.lightning`) and the Hugging Face Trainer's
(:mod:`.transformers`) callbacks, all on :mod:`.live`. Each module imports its framework only
when it is imported (``pip install 'nnfoundations[integrations]'`` installs them)."""

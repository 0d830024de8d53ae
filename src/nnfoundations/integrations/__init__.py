"""The live diagnosis inside training loops: ``fit``'s own (:mod:`.fit`). Each module imports
its framework only when used."""

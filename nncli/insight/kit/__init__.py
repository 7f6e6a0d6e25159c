"""The files `nncli export` copies into a test kit as they are: the generated test
(``test_my_network.py``) and the template of the learner's module (``my_network.py``). They
are not imported by nncli; they run in the kit, beside its ``kit.json``."""

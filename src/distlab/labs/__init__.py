"""distlab.labs: the checks of each lab, one module per lab notebook, under the same name.

The notebook ``labs/lab02a-ordered-chat.ipynb`` is the lab a student works in (generated
from the instructors' reference notebook of the same name, with the solutions); its module,
``distlab.labs.lab02a_ordered_chat``, holds what the student does not write -- the
messages, the clients, the workload -- and the `distlab.grading.Lab` subclass whose graded
checks judge the student's classes; ``tests/labs/test_lab02a_ordered_chat.py`` tests it.
``python -m distlab.grading.make_labs --check`` fails when one of the three is missing.

The modules are imported by name (``from distlab.labs.lab00_example import ...``): this
package imports none of them, so a notebook loads only its own lab. The harness
(`distlab.grading`) never imports a lab; a lab imports the harness.
"""
